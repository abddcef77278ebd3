"""The programme pages' front door: every programme the staff member works in, with the
sections their roles open."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from backend.accounts.models import Programme, StaffRole, User
from backend.cases import policy
from backend.inbox.labels import role_label
from backend.inbox.pages import staff_page, staff_user


@dataclass(frozen=True)
class Section:
    title: str
    url: str
    description: str


@dataclass(frozen=True)
class ProgrammeEntry:
    programme: Programme
    roles: list[str]
    sections: list[Section]


def _sections(user: User, programme: Programme) -> list[Section]:
    """The sections ``user`` may open in ``programme``: the same role questions the API
    asks, so a link is shown exactly when following it works."""
    pid = programme.pk
    sections: list[Section] = []
    # Each section's module adds its entry here, asking the API's role question.
    if policy.may_manage_staff(user, pid):
        sections.append(
            Section(
                _("Staff"),
                reverse("programme-page-staff", args=[pid]),
                _("invite staff, change roles, deactivate, reset two-step verification"),
            )
        )
    if policy.may_administer_cases(user, pid):
        sections.append(
            Section(
                _("Cases"),
                reverse("programme-page-cases", args=[pid]),
                _("open cases, choose who works them, close them, destroy their content"),
            )
        )
        sections.append(
            Section(
                _("Moves between programmes"),
                reverse("programme-page-transfers", args=[pid]),
                _("cases moving to or from another programme when someone relocates"),
            )
        )
    elif policy.may_open_cases(user, pid):
        sections.append(
            Section(
                _("Open a case"),
                reverse("programme-page-open-case", args=[pid]),
                _("a new case and its contact persons"),
            )
        )
    if policy.may_manage_programme_settings(user, pid):
        oncall_text = _("who is on call, where nobody is; rotations and overrides")
    else:
        oncall_text = _("who is on call now and in the coming days")
    sections.append(Section(_("On call"), reverse("programme-page-oncall", args=[pid]), oncall_text))
    if policy.may_administer_cases(user, pid):
        sections.append(
            Section(
                _("Working hours and alert limits"),
                reverse("programme-page-settings", args=[pid]),
                _("contact persons' working hours and absences, acknowledgement timeout, unanswered limit"),
            )
        )
    if policy.may_read_programme_audit(user, pid):
        sections.append(
            Section(
                _("Audit log"),
                reverse("programme-page-audit", args=[pid]),
                _("who did what and who read which case, with a CSV export"),
            )
        )
    return sections


def programme_entries(user: User) -> list[ProgrammeEntry]:
    roles = StaffRole.objects.filter(user=user).select_related("programme").order_by("programme__name", "role")
    by_programme: dict[int, tuple[Programme, list[str]]] = {}
    for row in roles:
        by_programme.setdefault(row.programme_id, (row.programme, []))[1].append(role_label(row.role))
    return [
        ProgrammeEntry(programme, labels, _sections(user, programme)) for programme, labels in by_programme.values()
    ]


@require_GET
@staff_page
def programmes_view(request: HttpRequest) -> HttpResponse:
    context = {"entries": programme_entries(staff_user(request)), "page": "programme"}
    return render(request, "inbox/programme/overview.html", context)
