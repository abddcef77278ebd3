"""What the inbox remembers for a staff member."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class InboxPreference(models.Model):
    """The inbox language a staff member chose; it follows them to every browser."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_preference")
    language = models.CharField(max_length=8, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(auto_now=True)
