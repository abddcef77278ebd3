"""The inbox's forms. Each turns what a person types into what a service takes; the
services still check everything themselves."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.crisis.services import NOTE_MAX_CHARS, RESOLUTION_MAX_CHARS


class LoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=1024, strip=False)
    otp = forms.RegexField(
        regex=r"^\d{6,8}$",
        label=_("One-time code"),
        max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)


class AckForm(forms.Form):
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=NOTE_MAX_CHARS)


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("What was done"), max_length=RESOLUTION_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 2})
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=200)


WEEKDAYS = [
    ("MO", _("Monday")),
    ("TU", _("Tuesday")),
    ("WE", _("Wednesday")),
    ("TH", _("Thursday")),
    ("FR", _("Friday")),
    ("SA", _("Saturday")),
    ("SU", _("Sunday")),
]


class ScheduleForm(forms.Form):
    """A check-in schedule as a person thinks of it: every day at a time, on chosen
    weekdays at a time, or once. It becomes an RRULE (or a one-off time) here, so
    nobody types RRULE syntax."""

    DAILY, ON_WEEKDAYS, ONCE = "daily", "weekdays", "once"

    repeat = forms.ChoiceField(
        label=_("How often"),
        choices=[(DAILY, _("Every day")), (ON_WEEKDAYS, _("On chosen weekdays")), (ONCE, _("Once"))],
        initial=DAILY,
        widget=forms.RadioSelect,
    )
    time = forms.TimeField(label=_("Time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    weekdays = forms.MultipleChoiceField(
        label=_("Weekdays"), choices=WEEKDAYS, required=False, widget=forms.CheckboxSelectMultiple
    )
    date = forms.DateField(label=_("Date (once)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    window_minutes = forms.IntegerField(label=_("Minutes to answer"), min_value=5, max_value=1440, initial=60)
    grace_minutes = forms.IntegerField(
        label=_("Extra minutes before an alert"), min_value=0, max_value=1440, initial=15
    )
    reminder_minutes = forms.IntegerField(
        label=_("Reminder, minutes before the window closes"), min_value=0, max_value=1440, initial=10
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        repeat = data.get("repeat")
        if repeat == self.ON_WEEKDAYS and not data.get("weekdays"):
            self.add_error("weekdays", _("Choose at least one weekday."))
        if repeat == self.ONCE and not data.get("date"):
            self.add_error("date", _("Choose a date."))
        return data

    @property
    def zone(self) -> str:
        return str(settings.LIVLINA_INBOX_TIME_ZONE)

    def rrule(self) -> str:
        """The RRULE for a repeating schedule ("" for a one-off)."""
        data = self.cleaned_data
        at: dt.time = data["time"]
        by_time = f"BYHOUR={at.hour};BYMINUTE={at.minute};BYSECOND=0"
        if data["repeat"] == self.DAILY:
            return f"FREQ=DAILY;{by_time}"
        if data["repeat"] == self.ON_WEEKDAYS:
            days = ",".join(code for code, _label in WEEKDAYS if code in data["weekdays"])
            return f"FREQ=WEEKLY;BYDAY={days};{by_time}"
        return ""

    def one_off_at(self) -> dt.datetime | None:
        data = self.cleaned_data
        if data["repeat"] != self.ONCE:
            return None
        return dt.datetime.combine(data["date"], data["time"], tzinfo=ZoneInfo(self.zone))

    def first_start(self) -> dt.datetime:
        """A repeating schedule starts today (local): its first check-in is the next
        matching time from now."""
        return timezone.localtime(timezone.now(), ZoneInfo(self.zone)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
