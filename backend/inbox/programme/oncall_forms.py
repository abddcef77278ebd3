"""The on-call page's forms: a rotation (who takes turns, in order, from which day, handing
over at what time, for how many days) and an override (someone covers a stretch). People
are chosen by name; dates and times are the browser's date and time inputs, read in the
inbox's time zone (active on every inbox page)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from backend.inbox.programme.case_forms import Choices

ROTATION_NAME_MAX_CHARS = 100
MAX_SHIFT_DAYS = 28  # as the API takes it
# Free turns shown after a rotation's members; a longer rotation is made in two saves.
SPARE_TURNS = 2
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


def turn_field_name(turn: int) -> str:
    return f"member_{turn}"


class RotationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=ROTATION_NAME_MAX_CHARS)
    start_date = forms.DateField(
        label=_("First shift starts on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    handoff_time = forms.TimeField(
        label=_("Handover time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    shift_days = forms.IntegerField(label=_("Days per shift"), min_value=1, max_value=MAX_SHIFT_DAYS)

    def __init__(self, *args: Any, people: Choices, current_members: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        turns = min(len(people), max(current_members + SPARE_TURNS, 3)) or 1
        self.turn_names = [turn_field_name(turn) for turn in range(1, turns + 1)]
        for turn, field_name in enumerate(self.turn_names, start=1):
            self.fields[field_name] = forms.TypedChoiceField(
                label=gettext("Turn %(n)d") % {"n": turn},
                coerce=int,
                choices=[("", "—"), *people],
                required=False,
                empty_value=None,
            )
        self.more_turns_later = len(people) > turns

    @property
    def turns(self) -> list[forms.BoundField]:
        return [self[name] for name in self.turn_names]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen: list[int] = []
        for name in self.turn_names:
            person = data.get(name)
            if person is None:
                continue
            if person in chosen:
                self.add_error(name, _("This person already has a turn."))
            chosen.append(person)
        if not chosen and not self.has_error(self.turn_names[0]):
            self.add_error(self.turn_names[0], _("Choose at least one person."))
        data["members"] = list(dict.fromkeys(chosen))
        return data


class OverrideForm(forms.Form):
    def __init__(self, *args: Any, rotations: Choices, people: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rotation"] = forms.TypedChoiceField(
            label=_("Rotation"), coerce=int, choices=[("", "—"), *rotations]
        )
        self.fields["user"] = forms.TypedChoiceField(
            label=_("Who is on call"), coerce=int, choices=[("", "—"), *people]
        )
        for name, label in (("starts_at", _("From")), ("ends_at", _("Until"))):
            self.fields[name] = forms.DateTimeField(
                label=label,
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_MINUTE),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts_at: dt.datetime | None = data.get("starts_at")
        ends_at: dt.datetime | None = data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("The end must come after the start."))
        return data
