"""A programme's on-call schedule: who is on call now, where nobody is in the next 14
days, and the rotations and overrides that decide it. Everyone who works in the programme
reads it; its supervisors and admins change it. Thin views over
``crisis.oncall_services``, asking the API's access questions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from backend.accounts.models import Programme, User
from backend.administration import access
from backend.cases import policy
from backend.crisis import oncall, oncall_services
from backend.crisis.models import OnCallOverride, OnCallRotation
from backend.inbox import oncall_notes
from backend.inbox.pages import staff_page, staff_user
from backend.inbox.people import display_name
from backend.inbox.programme.case_forms import people_choices
from backend.inbox.programme.oncall_forms import OverrideForm, RotationForm, turn_field_name
from backend.inbox.programme.refusals import form_status, sent, show_refusal
from backend.problems import Problem


def _programme_to_read(user: User, programme_id: int) -> Programme:
    # Any role opens the page; anyone else is told the programme does not exist.
    return access.programme_for(user, programme_id, policy.works_in_programme, "")


def _programme_to_change(user: User, programme_id: int) -> Programme:
    refusal = _("Only supervisors and admins change the on-call schedule.")
    return access.programme_for(user, programme_id, policy.may_manage_programme_settings, refusal)


def _oncall_url(programme: Programme) -> str:
    return reverse("programme-page-oncall", args=[programme.pk])


def _staff(programme: Programme) -> list[User]:
    """Who may be on the programme's rota: anyone with a role in it."""
    return list(User.objects.filter(staff_roles__programme=programme, is_active=True).distinct())


def _names(user_ids: set[int]) -> dict[int, str]:
    return {user.pk: display_name(user) for user in User.objects.filter(pk__in=user_ids)}


@dataclass(frozen=True)
class RotationRow:
    rotation: OnCallRotation
    members: list[str]
    now_on_call: str  # "" when nobody is
    until: dt.datetime | None
    covered_by_override: bool


@dataclass(frozen=True)
class OverrideRow:
    override: OnCallOverride
    rotation_name: str
    person: str
    current: bool


def _rotation_rows(
    rotations: list[OnCallRotation], overrides: list[OnCallOverride], names: dict[int, str], now: dt.datetime
) -> list[RotationRow]:
    rows = []
    for rotation in rotations:
        covering = next((o for o in overrides if o.rotation_id == rotation.pk and o.starts_at <= now < o.ends_at), None)
        shift = oncall.rotation_shift_at(rotation, now)
        if covering is not None:
            person, until = names.get(covering.user_id, ""), covering.ends_at
        elif shift is not None and shift.user_id is not None:
            person, until = names.get(shift.user_id, ""), shift.ends_at
        else:
            person, until = "", None
        rows.append(
            RotationRow(
                rotation=rotation,
                members=[names.get(member, "?") for member in rotation.members or []],
                now_on_call=person,
                until=until,
                covered_by_override=covering is not None,
            )
        )
    return rows


@require_GET
@staff_page
def oncall_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    user = staff_user(request)
    programme = _programme_to_read(user, programme_id)
    now = timezone.now()
    rotations = oncall_services.rotations_of(programme)
    overrides = oncall_services.overrides_of(programme, now=now)
    wanted = {member for r in rotations for member in r.members or []} | {o.user_id for o in overrides}
    names = _names(wanted)
    rotation_names = {r.pk: r.name for r in rotations}
    context = {
        "programme": programme,
        "coverage": oncall_notes.coverage_of(programme),
        "rotations": _rotation_rows(rotations, overrides, names, now),
        "overrides": [
            OverrideRow(o, rotation_names.get(o.rotation_id, ""), names.get(o.user_id, "?"), o.starts_at <= now)
            for o in overrides
        ],
        "may_change": policy.may_manage_programme_settings(user, programme.pk),
        "page": "programme",
    }
    return render(request, "inbox/programme/oncall.html", context)


# --- rotations ---------------------------------------------------------------------------


def _rotation_form(programme: Programme, data: Any = None, rotation: OnCallRotation | None = None) -> RotationForm:
    if rotation is None:
        initial: dict[str, Any] = {"start_date": timezone.localdate(), "handoff_time": dt.time(8, 0), "shift_days": 7}
        members: list[int] = []
    else:
        members = list(rotation.members or [])
        initial = {
            "name": rotation.name,
            "start_date": rotation.start_date,
            "handoff_time": rotation.handoff_time,
            "shift_days": rotation.shift_days,
        } | {turn_field_name(turn): member for turn, member in enumerate(members, start=1)}
    return RotationForm(data, initial=initial, people=people_choices(_staff(programme)), current_members=len(members))


def _save_rotation(request: HttpRequest, programme_id: int, rotation_id: int | None) -> HttpResponse:
    user = staff_user(request)
    programme = _programme_to_change(user, programme_id)
    rotation = oncall_services.rotation_in(programme, rotation_id) if rotation_id is not None else None
    form = _rotation_form(programme, sent(request), rotation)
    # A new rotation hands over in the inbox's zone; a rotation keeps the zone it has.
    zone = rotation.timezone if rotation else str(settings.LIVLINA_INBOX_TIME_ZONE)
    status = None
    if request.method == "POST" and form.is_valid():
        fields = {key: form.cleaned_data[key] for key in ("name", "start_date", "handoff_time", "shift_days")}
        try:
            if rotation is None:
                oncall_services.add_rotation(
                    programme=programme, actor=user, members=form.cleaned_data["members"], timezone=zone, **fields
                )
            else:
                oncall_services.update_rotation(
                    programme=programme,
                    actor=user,
                    rotation_id=rotation.pk,
                    members=form.cleaned_data["members"],
                    timezone=zone,
                    **fields,
                )
        except Problem as problem:
            status = show_refusal(form, problem, {"members": turn_field_name(1)})
        else:
            return HttpResponseRedirect(_oncall_url(programme))
    context = {"programme": programme, "rotation": rotation, "form": form, "zone": zone, "page": "programme"}
    return render(request, "inbox/programme/rotation_form.html", context, status=form_status(form, status))


@require_http_methods(["GET", "POST"])
@staff_page
def rotation_new_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _save_rotation(request, programme_id, None)


@require_http_methods(["GET", "POST"])
@staff_page
def rotation_view(request: HttpRequest, programme_id: int, rotation_id: int) -> HttpResponse:
    return _save_rotation(request, programme_id, rotation_id)


@require_http_methods(["GET", "POST"])
@staff_page
def rotation_delete_view(request: HttpRequest, programme_id: int, rotation_id: int) -> HttpResponse:
    """Deleting asks first: the rotation's overrides go with it."""
    user = staff_user(request)
    programme = _programme_to_change(user, programme_id)
    rotation = oncall_services.rotation_in(programme, rotation_id)
    if request.method == "POST":
        oncall_services.delete_rotation(programme=programme, actor=user, rotation_id=rotation.pk)
        return HttpResponseRedirect(_oncall_url(programme))
    context = {
        "programme": programme,
        "rotation": rotation,
        "overrides": OnCallOverride.objects.filter(rotation=rotation, ends_at__gt=timezone.now()).count(),
        "page": "programme",
    }
    return render(request, "inbox/programme/rotation_delete.html", context)


# --- overrides ---------------------------------------------------------------------------


def _override_form(programme: Programme, data: Any = None, override: OnCallOverride | None = None) -> OverrideForm:
    rotations = [(r.pk, r.name) for r in oncall_services.rotations_of(programme)]
    if override is None:
        start = timezone.localtime().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        initial: dict[str, Any] = {"starts_at": start, "ends_at": start + dt.timedelta(days=1)}
        if len(rotations) == 1:
            initial["rotation"] = rotations[0][0]
    else:
        initial = {
            "rotation": override.rotation_id,
            "user": override.user_id,
            "starts_at": override.starts_at,
            "ends_at": override.ends_at,
        }
    return OverrideForm(data, initial=initial, rotations=rotations, people=people_choices(_staff(programme)))


def _save_override(request: HttpRequest, programme_id: int, override_id: int | None) -> HttpResponse:
    user = staff_user(request)
    programme = _programme_to_change(user, programme_id)
    override = oncall_services.override_in(programme, override_id) if override_id is not None else None
    form = _override_form(programme, sent(request), override)
    status = None
    if request.method == "POST" and form.is_valid():
        fields = {key: form.cleaned_data[key] for key in ("rotation", "user", "starts_at", "ends_at")}
        try:
            if override is None:
                oncall_services.add_override(programme=programme, actor=user, **fields)
            else:
                oncall_services.update_override(programme=programme, actor=user, override_id=override.pk, **fields)
        except Problem as problem:
            status = show_refusal(form, problem)
        else:
            return HttpResponseRedirect(_oncall_url(programme))
    context = {"programme": programme, "override": override, "form": form, "page": "programme"}
    return render(request, "inbox/programme/override_form.html", context, status=form_status(form, status))


@require_http_methods(["GET", "POST"])
@staff_page
def override_new_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _save_override(request, programme_id, None)


@require_http_methods(["GET", "POST"])
@staff_page
def override_view(request: HttpRequest, programme_id: int, override_id: int) -> HttpResponse:
    return _save_override(request, programme_id, override_id)


@require_http_methods(["GET", "POST"])
@staff_page
def override_delete_view(request: HttpRequest, programme_id: int, override_id: int) -> HttpResponse:
    user = staff_user(request)
    programme = _programme_to_change(user, programme_id)
    override = oncall_services.override_in(programme, override_id)
    if request.method == "POST":
        oncall_services.delete_override(programme=programme, actor=user, override_id=override.pk)
        return HttpResponseRedirect(_oncall_url(programme))
    context = {
        "programme": programme,
        "override": override,
        "person": display_name(override.user),
        "page": "programme",
    }
    return render(request, "inbox/programme/override_delete.html", context)


urlpatterns = [
    path("oncall/", oncall_view, name="programme-page-oncall"),
    path("oncall/rotations/new/", rotation_new_view, name="programme-page-rotation-new"),
    path("oncall/rotations/<int:rotation_id>/", rotation_view, name="programme-page-rotation"),
    path("oncall/rotations/<int:rotation_id>/delete", rotation_delete_view, name="programme-page-rotation-delete"),
    path("oncall/overrides/new/", override_new_view, name="programme-page-override-new"),
    path("oncall/overrides/<int:override_id>/", override_view, name="programme-page-override"),
    path("oncall/overrides/<int:override_id>/delete", override_delete_view, name="programme-page-override-delete"),
]
