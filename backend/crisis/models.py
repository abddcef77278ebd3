"""Alerts, their timelines, escalation policies, on-call schedules, and the programmes'
own crisis phrase lists."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from django.conf import settings
from django.db import models
from django.db.models import Q

from backend.crisis.language import CATEGORIES, LANGUAGES
from backend.crisis.severity import SEVERITY_CHOICES, Severity


class Alert(models.Model):
    class Kind(models.TextChoices):
        """What raised the alert; every app that raises one names its kind from here."""

        KEYWORD = "keyword"
        MISSED_CHECKIN = "missed_checkin"
        DURESS = "duress"
        PANIC = "panic"
        UNANSWERED = "unanswered"
        NEED_CONTACT = "need_contact"
        DANGER = "danger"

    class State(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # ``Severity.rank``: ordered, so "higher severity" is a comparison (and an ORDER BY).
    severity = models.PositiveSmallIntegerField(choices=SEVERITY_CHOICES)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    categories = models.JSONField(default=list, blank=True)
    # Why it was raised, for staff: ``[{"category": ..., "rule": ...}]``, every rule that
    # fired over its triggers (a rule name of crisis/default_phrases/rules.tsv,
    # "listed_phrase" or "programme_phrase"; for other kinds "duress_phrase" and the like).
    # Never the words of a message.
    reasons = models.JSONField(default=list, blank=True)
    trigger_count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True, default="")
    # Escalation state: the policy as it was when escalation started (a snapshot), where
    # it is, when the next step is due, and the lease of the worker running it.
    escalation = models.JSONField(default=dict)
    step_index = models.PositiveIntegerField(default=0)
    round = models.PositiveIntegerField(default=0)
    next_step_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    reopen_at = models.DateTimeField(null=True, blank=True, help_text="ack timeout: re-open if not resolved")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "kind"], condition=~Q(state="resolved"), name="one_unresolved_alert_per_case_kind"
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_step_at"]),
            models.Index(fields=["state", "reopen_at"]),
        ]

    @property
    def severity_name(self) -> Severity:
        return Severity.of_rank(self.severity)


class AlertEvent(models.Model):
    """The alert's timeline: everything that happened to it, in order."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]


class AlertRecipient(models.Model):
    """Staff who were notified of an alert: they may see it (and, once they acknowledge,
    its case) even when they are not assigned to the case."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    first_notified_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "user"], name="unique_alert_recipient")]


class StepAction(StrEnum):
    """What an escalation step does. A policy is made of the first four; the engine adds
    ``NOTIFY_CRITICAL`` in front of a critical alert's steps (contact persons and on-call
    at once) and ``NOTIFY_EVERYONE`` once the policy's repeats have run out."""

    NOTIFY_CONTACTS = "notify_contacts"
    NOTIFY_ON_CALL = "notify_on_call"
    NOTIFY_SUPERVISORS = "notify_supervisors"
    WAIT = "wait"
    NOTIFY_CRITICAL = "notify_critical"
    NOTIFY_EVERYONE = "notify_everyone"


# The actions a programme's own policy may use.
POLICY_ACTIONS = (StepAction.NOTIFY_CONTACTS, StepAction.NOTIFY_ON_CALL, StepAction.NOTIFY_SUPERVISORS, StepAction.WAIT)


class EscalationPolicy(models.Model):
    """A programme's escalation: ordered steps, repeated from the top ``repeat`` times.

    Steps are ``{"action": <a StepAction in POLICY_ACTIONS other than WAIT>}`` or
    ``{"action": "wait", "minutes": N}``."""

    programme = models.OneToOneField("accounts.Programme", on_delete=models.CASCADE, related_name="escalation_policy")
    steps = models.JSONField()
    repeat = models.PositiveSmallIntegerField(default=3)
    updated_at = models.DateTimeField(auto_now=True)


class OnCallRotation(models.Model):
    """Members take turns: each shift lasts ``shift_days`` and hands off at ``handoff_time``
    local time in ``timezone``, starting on ``start_date`` with the first member."""

    programme = models.ForeignKey("accounts.Programme", on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=100)
    members = models.JSONField(help_text="ordered list of user ids")
    start_date = models.DateField()
    handoff_time = models.TimeField(default=dt.time(8, 0))
    shift_days = models.PositiveSmallIntegerField(default=7)
    timezone = models.CharField(max_length=64, default="Europe/Stockholm")


class OnCallOverride(models.Model):
    """One person covers a single stretch of time instead of the rotation."""

    rotation = models.ForeignKey(OnCallRotation, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()


class WorkingHours(models.Model):
    """When a contact person is at work (outside it, or on a day they are away, an
    unanswered message alerts at once)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="working_hours")
    weekdays = models.JSONField(default=list, help_text="ISO weekdays, 1 = Monday")
    start = models.TimeField(default=dt.time(8, 0))
    end = models.TimeField(default=dt.time(17, 0))
    timezone = models.CharField(max_length=64, default="Europe/Stockholm")
    absences = models.JSONField(
        default=list, blank=True, help_text='[{"from": "YYYY-MM-DD", "until": "YYYY-MM-DD"}], both days included'
    )

    def away_on(self, day: dt.date) -> bool:
        iso = day.isoformat()
        return any(period["from"] <= iso <= period["until"] for period in self.absences)


# --- a programme's own crisis phrases ---------------------------------------------------
# On top of the shipped defaults (crisis/default_phrases/), with their history. Every
# change goes through ``crisis.phrase_services``, which bumps the list's ``version`` and
# writes a ``PhraseListChange``; the scanner keys its compiled matcher on the sum of a
# programme's list versions.

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
    """One phrase (or one exclusion, or one word of a concept the rules combine, such as
    a local medicine name) in a list. ``normalised`` is what the scanner matches, kept
    for display and duplicate checks; the scanner recomputes it."""

    phrase_list = models.ForeignKey(PhraseList, on_delete=models.CASCADE, related_name="phrases")
    phrase = models.CharField(max_length=PHRASE_MAX_LENGTH)
    normalised = models.CharField(max_length=PHRASE_MAX_LENGTH + 1)
    severity = models.CharField(max_length=16, blank=True, default="", choices=[(s.value, s.value) for s in Severity])
    category = models.CharField(max_length=16, blank=True, default="", choices=[(c, c) for c in CATEGORIES])
    is_exclusion = models.BooleanField(default=False)
    # A concept of the shipped rules (``language.default_rules().concepts``): the phrase
    # alerts nothing alone and joins that word group ("medicine").
    concept = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["phrase_list", "normalised", "is_exclusion", "concept"], name="unique_phrase_in_list"
            )
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


# --- the agreed duress phrase of a case -----------------------------------------------


class DuressPhrase(models.Model):
    """The innocent-looking phrase a defector and their contact person agreed on. Only a
    keyed hash (HMAC with a pepper kept outside the database) of its normalised form is
    stored, with its number of words so a message's word runs of that length can be
    hashed and compared; the phrase itself is never stored or shown again."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="duress_phrase")
    phrase_hash = models.CharField(max_length=64)
    word_count = models.PositiveSmallIntegerField()
    set_at = models.DateTimeField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")


class MessageDuressCheck(models.Model):
    """One per message a defector sends, written the same way whether or not it held the
    case's duress phrase: what the check found is sealed with the case's key and read by
    the worker, which raises the duress alert, so the sending request does identical
    work either way (like ``checkins.CheckinAnswer``)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveIntegerField(help_text="the message's place in the case's conversation")
    sealed_assessment = models.BinaryField()
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="one_duress_check_per_message")]

    @property
    def vault_record(self) -> str:
        """What the sealed assessment is bound to: the message (one per case and seq)."""
        return f"duress-check:{self.case_id}:{self.seq}"
