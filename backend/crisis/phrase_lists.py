"""A programme's own crisis phrases, on top of the shipped defaults, and their history.

Models live here and are imported at the end of ``crisis/models.py`` so Django finds
them. Every change goes through ``crisis.phrase_services``, which bumps the list's
``version`` and writes a ``PhraseListChange``; the scanner keys its compiled matcher on
the sum of a programme's list versions.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from backend.crisis.scanning import CATEGORIES, LANGUAGES, SEVERITIES

__all__ = ["Phrase", "PhraseList", "PhraseListChange"]

PHRASE_MAX_LENGTH = 200


class PhraseList(models.Model):
    """A programme's custom list for one language. Never deleted (its history points at
    it); deactivate it instead, through a service that bumps its version."""

    programme = models.ForeignKey("accounts.Programme", on_delete=models.CASCADE, related_name="phrase_lists")
    language = models.CharField(max_length=8, choices=[(code, code) for code in LANGUAGES])
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["programme", "name"], name="unique_phrase_list_name")]

    def __str__(self) -> str:
        return f"{self.name} (programme {self.programme_id}, v{self.version})"


class Phrase(models.Model):
    """One phrase (or one exclusion) in a list. ``normalised`` is what the scanner
    matches, kept for display and duplicate checks; the scanner recomputes it."""

    phrase_list = models.ForeignKey(PhraseList, on_delete=models.CASCADE, related_name="phrases")
    phrase = models.CharField(max_length=PHRASE_MAX_LENGTH)
    normalised = models.CharField(max_length=PHRASE_MAX_LENGTH + 1)
    severity = models.CharField(max_length=16, blank=True, default="", choices=[(s, s) for s in SEVERITIES])
    category = models.CharField(max_length=16, blank=True, default="", choices=[(c, c) for c in CATEGORIES])
    is_exclusion = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["phrase_list", "normalised", "is_exclusion"], name="unique_phrase_in_list")
        ]


class PhraseListChange(models.Model):
    """The history: one row per change, with the list version it produced and the
    programme version (the scanner's cache key) after it."""

    phrase_list = models.ForeignKey(PhraseList, on_delete=models.PROTECT, related_name="changes")
    version = models.PositiveIntegerField()
    programme_version = models.PositiveIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-pk"]
        constraints = [models.UniqueConstraint(fields=["phrase_list", "version"], name="unique_phrase_list_version")]
