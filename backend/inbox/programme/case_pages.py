"""A programme's cases as its supervisors run them: the list, opening a case, and a
case's page (who works it, closing it, destroying its content with a second supervisor).
Thin views over ``administration.case_services``, asking the API's access questions.

Deciding who works a case gives no access to it: nothing here shows a message, a
check-in or an alert of a case."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts.models import Programme, User
from backend.administration import access, case_services
from backend.administration.case_selectors import CaseSummary, case_summary, programme_cases
from backend.cases import policy
from backend.cases.models import Case, CaseAssignment
from backend.inbox.pages import staff_page, staff_user
from backend.inbox.programme.case_forms import (
    CloseCaseForm,
    OpenCaseForm,
    PersonForm,
    ProposeTransferForm,
    contact_persons,
    people_choices,
    possible_backups,
)
from backend.inbox.programme.refusals import conflict_text, form_status, sent, show_refusal
from backend.inbox.views import new_enrollment_code
from backend.problems import Problem


def supervisors_only() -> str:
    return _("Only the programme's supervisors administer its cases.")


def programme_to_administer(user: User, programme_id: int) -> Programme:
    return access.programme_for(user, programme_id, policy.may_administer_cases, supervisors_only())


def case_to_administer(user: User, programme: Programme, case_id: int) -> Case:
    """A case of ``programme`` (its URL names both): a case of another programme, even one
    the user also supervises, is not found here."""
    case = access.case_for(user, case_id, policy.may_administer_cases, supervisors_only())
    if case.programme_id != programme.pk:
        raise Problem(status_code=404, slug="not-found", detail="No such case.")
    return case


def _case_url(case: Case) -> str:
    return reverse("programme-page-case", args=[case.programme_id, case.pk])


# --- the list ----------------------------------------------------------------------------


@require_GET
@staff_page
def cases_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = programme_to_administer(staff_user(request), programme_id)
    context = {"programme": programme, "cases": programme_cases(programme), "page": "programme"}
    return render(request, "inbox/programme/cases.html", context)


# --- opening a case ----------------------------------------------------------------------


def _open_case_form(programme: Programme, data: Any = None) -> OpenCaseForm:
    return OpenCaseForm(
        data,
        primaries=people_choices(contact_persons(programme)),
        backups=people_choices(possible_backups(programme)),
    )


@require_http_methods(["GET", "POST"])
@staff_page
def open_case_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    """Opening a case (contact persons, supervisors and admins, as the API allows). The
    enrollment code follows at once when the opener works the case; anyone else opening
    it leaves the code to its contact person (a code enrolls a phone that reads the
    case, so only those assigned to it may make one)."""
    user = staff_user(request)
    refusal = _("Only contact persons, supervisors and admins open cases.")
    programme = access.programme_for(user, programme_id, policy.may_open_cases, refusal)
    form = _open_case_form(programme, sent(request))
    status = None
    if request.method == "POST" and form.is_valid():
        try:
            case = case_services.open_programme_case(
                programme=programme,
                actor=user,
                alias=form.cleaned_data["alias"],
                primary_contact=form.cleaned_data["primary_contact"],
                backups=form.cleaned_data["backups"],
            )
        except Problem as problem:
            status = show_refusal(form, problem)
        else:
            return _case_opened(request, programme, case, user)
    context = {"programme": programme, "form": form, "page": "programme"}
    return render(request, "inbox/programme/open_case.html", context, status=form_status(form, status))


def _case_opened(request: HttpRequest, programme: Programme, case: Case, user: User) -> HttpResponse:
    assigned = CaseAssignment.objects.filter(case=case, staff=user).exists()
    context: dict[str, Any] = {
        "programme": programme,
        "case": case,
        "summary": case_summary(case),
        "may_administer": policy.may_administer_cases(user, programme.pk),
        "assigned": assigned,
        "page": "programme",
    }
    if assigned:
        context |= new_enrollment_code(case, user)
    response = render(request, "inbox/programme/case_opened.html", context)
    # It may hold a one-time code: no cache, no back-button copy.
    response["Cache-Control"] = "no-store"
    return response


# --- a case's page -----------------------------------------------------------------------


def _person_form(programme: Programme, summary: CaseSummary, role: str, data: Any = None) -> PersonForm:
    """Who may become the case's primary contact (a contact person, not the current one)
    or a backup (a contact person or on-call staff not on the case yet), by name. Each
    form's ids carry the role: both forms are on one page."""
    on_case = {summary.primary.pk} if summary.primary else set()
    if role == CaseAssignment.Role.PRIMARY:
        people = [u for u in contact_persons(programme) if u.pk not in on_case]
        label = _("New primary contact person")
    else:
        on_case |= {backup.pk for backup in summary.backups}
        people = [u for u in possible_backups(programme) if u.pk not in on_case]
        label = _("New backup")
    return PersonForm(data, label=label, choices=people_choices(people), auto_id=f"{role}_%s")


def case_page(
    request: HttpRequest,
    programme: Programme,
    case: Case,
    *,
    bound: dict[str, forms.Form] | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    """The case's page; ``bound`` holds a form sent with an error, shown in its place, and
    ``refusal`` what a refused act without a form (removing a backup) says."""
    summary = case_summary(case)
    targets = [(p.pk, p.name) for p in Programme.objects.exclude(pk=programme.pk).order_by("name")]
    forms_shown: dict[str, forms.Form] = {
        "primary_form": _person_form(programme, summary, CaseAssignment.Role.PRIMARY),
        "backup_form": _person_form(programme, summary, CaseAssignment.Role.BACKUP),
        "transfer_form": ProposeTransferForm(programmes=targets),
    }
    forms_shown |= bound or {}
    context = {
        "programme": programme,
        "case": case,
        "summary": summary,
        "refusal": refusal,
        "page": "programme",
        **forms_shown,
    }
    return render(request, "inbox/programme/case.html", context, status=status)


@require_GET
@staff_page
def case_view(request: HttpRequest, programme_id: int, case_id: int) -> HttpResponse:
    user = staff_user(request)
    programme = programme_to_administer(user, programme_id)
    return case_page(request, programme, case_to_administer(user, programme, case_id))


def _assign(request: HttpRequest, programme_id: int, case_id: int, role: str) -> HttpResponse:
    user = staff_user(request)
    programme = programme_to_administer(user, programme_id)
    case = case_to_administer(user, programme, case_id)
    form = _person_form(programme, case_summary(case), role, request.POST)
    status = 400
    if form.is_valid():
        try:
            case_services.set_assignment(case=case, actor=user, user_id=form.cleaned_data["user"], role=role)
        except Problem as problem:
            status = show_refusal(form, problem)
        else:
            return HttpResponseRedirect(_case_url(case))
    bound: dict[str, forms.Form] = {f"{role}_form": form}
    return case_page(request, programme, case, bound=bound, status=status)


@require_POST
@staff_page
def primary_view(request: HttpRequest, programme_id: int, case_id: int) -> HttpResponse:
    """A new primary contact: the one before leaves the case and loses access at once."""
    return _assign(request, programme_id, case_id, CaseAssignment.Role.PRIMARY)


@require_POST
@staff_page
def backup_view(request: HttpRequest, programme_id: int, case_id: int) -> HttpResponse:
    return _assign(request, programme_id, case_id, CaseAssignment.Role.BACKUP)


@require_POST
@staff_page
def remove_backup_view(request: HttpRequest, programme_id: int, case_id: int, user_id: int) -> HttpResponse:
    """The backup loses access at once."""
    user = staff_user(request)
    programme = programme_to_administer(user, programme_id)
    case = case_to_administer(user, programme, case_id)
    try:
        case_services.remove_assignment(case=case, actor=user, user_id=user_id)
    except Problem as problem:
        if problem.status_code != HTTPStatus.CONFLICT:
            raise
        return case_page(request, programme, case, refusal=conflict_text(problem), status=HTTPStatus.CONFLICT)
    return HttpResponseRedirect(_case_url(case))


@require_http_methods(["GET", "POST"])
@staff_page
def close_view(request: HttpRequest, programme_id: int, case_id: int) -> HttpResponse:
    """Closing asks first (a page, not a script dialog): the phone is signed out for good."""
    user = staff_user(request)
    programme = programme_to_administer(user, programme_id)
    case = case_to_administer(user, programme, case_id)
    form = CloseCaseForm(sent(request))
    status = None
    if request.method == "POST" and form.is_valid():
        try:
            case_services.close_case(case=case, actor=user, note=form.cleaned_data["note"])
        except Problem as problem:
            status = show_refusal(form, problem)
        else:
            return HttpResponseRedirect(_case_url(case))
    context = {"programme": programme, "case": case, "form": form, "page": "programme"}
    return render(request, "inbox/programme/close_case.html", context, status=form_status(form, status))


@require_http_methods(["GET", "POST"])
@staff_page
def shred_view(request: HttpRequest, programme_id: int, case_id: int) -> HttpResponse:
    """Destroying a closed case's content: one supervisor asks, another confirms within
    24 hours. The page says which of the two the reader would be."""
    user = staff_user(request)
    programme = programme_to_administer(user, programme_id)
    case = case_to_administer(user, programme, case_id)
    form = forms.Form(sent(request))
    status = None
    if request.method == "POST" and form.is_valid():
        try:
            case_services.request_shred(case=case, actor=user)
        except Problem as problem:
            status = show_refusal(form, problem)
        else:
            return HttpResponseRedirect(_case_url(case))
    context = {"programme": programme, "case": case, "summary": case_summary(case), "form": form, "page": "programme"}
    return render(request, "inbox/programme/shred_case.html", context, status=status or HTTPStatus.OK)


urlpatterns = [
    path("cases/", cases_view, name="programme-page-cases"),
    path("cases/new/", open_case_view, name="programme-page-open-case"),
    path("cases/<int:case_id>/", case_view, name="programme-page-case"),
    path("cases/<int:case_id>/primary", primary_view, name="programme-page-case-primary"),
    path("cases/<int:case_id>/backups", backup_view, name="programme-page-case-backup"),
    path(
        "cases/<int:case_id>/backups/<int:user_id>/remove",
        remove_backup_view,
        name="programme-page-case-remove-backup",
    ),
    path("cases/<int:case_id>/close", close_view, name="programme-page-case-close"),
    path("cases/<int:case_id>/shred", shred_view, name="programme-page-case-shred"),
]
