"""How a programme answers, for its supervisors: each contact person's working hours and
absences (a message to someone off work or away raises an unanswered alert at once),
and the programme's acknowledgement timeout and unanswered-message limit. Writes go
through ``administration.settings_services``, as the API's do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.contrib import messages
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts.models import Programme, StaffRole
from backend.administration import access, settings_services, staff_services
from backend.administration.settings_views import MAX_ABSENCES
from backend.cases import policy
from backend.crisis.models import WorkingHours
from backend.inbox.forms import WEEKDAYS
from backend.inbox.pages import staff_page, staff_user

MINUTES_PER_DAY = 24 * 60
SHORTEST_RANGE = 3  # days in a row written as "Monday to Wednesday"
# ISO weekday numbers (1 = Monday), as the service stores them, with the inbox's names.
ISO_WEEKDAYS = [(str(number), label) for number, (_code, label) in enumerate(WEEKDAYS, start=1)]
REGIONS = {
    "Europe": gettext_lazy("Europe"),
    "Africa": gettext_lazy("Africa"),
    "America": gettext_lazy("America"),
    "Asia": gettext_lazy("Asia"),
    "Atlantic": gettext_lazy("Atlantic"),
    "Australia": gettext_lazy("Australia"),
    "Indian": gettext_lazy("Indian Ocean"),
    "Pacific": gettext_lazy("Pacific"),
    "Antarctica": gettext_lazy("Antarctica"),
}


@cache
def _zones_by_region() -> dict[str, list[str]]:
    """The IANA zones a person would pick, by region (not the old aliases such as
    ``US/Eastern`` or ``Etc/GMT+5``)."""
    zones = available_timezones()
    return {region: sorted(z for z in zones if z.startswith(f"{region}/")) for region in REGIONS}


def zone_choices(current: str) -> list[Any]:
    grouped: list[Any] = [("UTC", "UTC")]
    if current != "UTC" and not any(current in zones for zones in _zones_by_region().values()):
        grouped.append((current, current))  # a zone set over the API stays choosable
    for region, zones in _zones_by_region().items():
        grouped.append((REGIONS[region], [(zone, zone.split("/", 1)[1].replace("_", " ")) for zone in zones]))
    return grouped


class WorkingHoursForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Working days"),
        choices=ISO_WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    start = forms.TimeField(
        label=gettext_lazy("Work starts"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end = forms.TimeField(
        label=gettext_lazy("Work ends"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    timezone = forms.ChoiceField(label=gettext_lazy("Time zone"))

    def __init__(self, *args: Any, current_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone_field = self.fields["timezone"]
        assert isinstance(zone_field, forms.ChoiceField)
        zone_field.choices = zone_choices(current_zone)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", _("Work must end after it starts (the same day)."))
        return data


class AbsenceForm(forms.Form):
    first_day = forms.DateField(
        label=gettext_lazy("First day away"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    last_day = forms.DateField(
        label=gettext_lazy("Last day away"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first_day"), data.get("last_day")
        if self.cleaned_data.get("DELETE"):
            return data
        if first and not last:
            self.add_error("last_day", _("Fill in the last day too."))
        elif last and not first:
            self.add_error("first_day", _("Fill in the first day too."))
        elif first and last and last < first:
            self.add_error("last_day", _("The last day cannot be before the first."))
        return data


AbsenceFormSet = formset_factory(
    AbsenceForm, extra=2, can_delete=True, max_num=MAX_ABSENCES, validate_max=True, absolute_max=MAX_ABSENCES
)


class AlertLimitsForm(forms.Form):
    ack_timeout_minutes = forms.IntegerField(
        label=gettext_lazy("Acknowledgement timeout, minutes"),
        min_value=1,
        max_value=MINUTES_PER_DAY,
        help_text=gettext_lazy("An alert acknowledged but not resolved opens again after this long."),
    )
    unanswered_limit_minutes = forms.IntegerField(
        label=gettext_lazy("Unanswered-message limit, minutes"),
        min_value=1,
        max_value=MINUTES_PER_DAY,
        help_text=gettext_lazy(
            "A defector's message nobody has read for this long raises an alert (at once when the contact "
            "person is off work or away)."
        ),
    )


def _programme(request: HttpRequest, programme_id: int) -> Programme:
    return access.programme_for(
        staff_user(request),
        programme_id,
        policy.may_administer_cases,
        _("Only the programme's supervisors set working hours and alert limits."),
    )


def days_summary(weekdays: Iterable[int]) -> str:
    """Three or more days in a row as a range ("Monday to Friday", written with an en
    dash), others one by one, in the inbox's words."""
    names = {int(number): str(label) for number, label in ISO_WEEKDAYS}
    runs: list[list[int]] = []
    for day in sorted(set(weekdays)):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= SHORTEST_RANGE:
            parts.append(f"{names[run[0]]}\u2013{names[run[-1]]}")
        else:
            parts.extend(names[day] for day in run)
    return ", ".join(parts) if parts else _("No working days")


def _absences(hours: WorkingHours) -> list[tuple[dt.date, dt.date]]:
    return [(dt.date.fromisoformat(a["from"]), dt.date.fromisoformat(a["until"])) for a in hours.absences]


def _hours_row(member: staff_services.StaffMember, today: dt.date) -> dict[str, Any]:
    hours = settings_services.working_hours_of(member.user)
    absences = _absences(hours)
    return {
        "member": member,
        "hours": hours,
        "days": days_summary(hours.weekdays),
        "coming_absences": [(first, last) for first, last in absences if last >= today],
        "away_today": any(first <= today <= last for first, last in absences),
    }


def _settings_page(
    request: HttpRequest, programme: Programme, limits_form: AlertLimitsForm, status: int
) -> HttpResponse:
    today = timezone.localdate()
    contact_persons = [m for m in staff_services.staff_of(programme) if StaffRole.Role.CONTACT_PERSON.value in m.roles]
    context = {
        "programme": programme,
        "limits_form": limits_form,
        "rows": [_hours_row(member, today) for member in contact_persons],
        "page": "programme",
    }
    return render(request, "inbox/programme/settings.html", context, status=status)


@require_GET
@staff_page
def settings_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    limits = settings_services.alert_limits(programme)
    form = AlertLimitsForm(
        initial={
            "ack_timeout_minutes": limits.ack_timeout_minutes,
            "unanswered_limit_minutes": limits.unanswered_limit_minutes,
        }
    )
    return _settings_page(request, programme, form, 200)


@require_POST
@staff_page
def alert_limits_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    form = AlertLimitsForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, programme, form, 400)
    settings_services.set_alert_limits(programme=programme, actor=staff_user(request), **form.cleaned_data)
    messages.success(request, _("The alert limits are saved. They apply from now on."))
    return HttpResponseRedirect(reverse("programme-page-settings", args=[programme.pk]))


def _hours_forms(request: HttpRequest, hours: WorkingHours) -> tuple[WorkingHoursForm, Any]:
    if request.method == "POST":
        return (
            WorkingHoursForm(request.POST, current_zone=hours.timezone),
            AbsenceFormSet(request.POST, prefix="absences"),
        )
    initial = {"weekdays": [str(d) for d in hours.weekdays], "start": hours.start, "end": hours.end}
    absences = [{"first_day": first, "last_day": last} for first, last in _absences(hours)]
    return (
        WorkingHoursForm(initial=initial | {"timezone": hours.timezone}, current_zone=hours.timezone),
        AbsenceFormSet(initial=absences, prefix="absences"),
    )


def _kept_absences(formset: Any) -> list[dict[str, dt.date]]:
    return [
        {"from": form.cleaned_data["first_day"], "until": form.cleaned_data["last_day"]}
        for form in formset.forms
        if form.cleaned_data.get("first_day") and not form.cleaned_data.get("DELETE")
    ]


@require_http_methods(["GET", "POST"])
@staff_page
def working_hours_view(request: HttpRequest, programme_id: int, user_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    member = staff_services.programme_member(programme, user_id)
    hours = settings_services.working_hours_of(member)
    form, absences = _hours_forms(request, hours)
    if request.method == "POST" and form.is_valid() and absences.is_valid():
        settings_services.set_working_hours(
            programme=programme,
            actor=staff_user(request),
            user=member,
            absences=_kept_absences(absences),
            **form.cleaned_data,
        )
        name = member.get_full_name() or member.username
        messages.success(request, _("The working hours of %(name)s are saved.") % {"name": name})
        return HttpResponseRedirect(reverse("programme-page-settings", args=[programme.pk]))
    context = {"programme": programme, "member": member, "form": form, "absences": absences, "page": "programme"}
    invalid = request.method == "POST"
    return render(request, "inbox/programme/working_hours.html", context, status=400 if invalid else 200)


urlpatterns = [
    path("", settings_view, name="programme-page-settings"),
    path("alert-limits/", alert_limits_view, name="programme-page-alert-limits"),
    path("working-hours/<int:user_id>/", working_hours_view, name="programme-page-working-hours"),
]
