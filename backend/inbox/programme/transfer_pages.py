"""Moving a case to another programme when its defector is relocated: proposed from the
case's page, answered on the receiving programme's transfers page. Thin views over
``administration.transfer_services``.

The sending programme sees what the API shows it: the proposal's state (waiting,
accepted, declined, expired), never who works the case afterwards."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from backend.accounts.models import Programme
from backend.administration import transfer_services
from backend.administration.models import CaseTransfer
from backend.inbox.pages import staff_page, staff_user
from backend.inbox.programme.case_forms import AcceptTransferForm, ProposeTransferForm, contact_persons, people_choices
from backend.inbox.programme.case_pages import case_page, case_to_administer, programme_to_administer
from backend.inbox.programme.refusals import conflict_text, show_refusal
from backend.problems import Problem


@require_POST
@staff_page
def propose_view(request: HttpRequest, programme_id: int, case_id: int) -> HttpResponse:
    user = staff_user(request)
    programme = programme_to_administer(user, programme_id)
    case = case_to_administer(user, programme, case_id)
    targets = [(p.pk, p.name) for p in Programme.objects.exclude(pk=programme.pk).order_by("name")]
    form = ProposeTransferForm(request.POST, programmes=targets)
    status = 400
    if form.is_valid():
        try:
            transfer_services.propose_transfer(case=case, actor=user, to_programme=form.cleaned_data["to_programme"])
        except Problem as problem:
            if problem.status_code == HTTPStatus.CONFLICT:  # the case's state: its page says why
                return case_page(request, programme, case, refusal=conflict_text(problem), status=problem.status_code)
            status = show_refusal(form, problem)
        else:
            return HttpResponseRedirect(reverse("programme-page-case", args=[programme.pk, case.pk]))
    return case_page(request, programme, case, bound={"transfer_form": form}, status=status)


def _accept_form(programme: Programme, transfer: CaseTransfer, data: object = None) -> AcceptTransferForm:
    return AcceptTransferForm(
        data, prefix=f"transfer-{transfer.pk}", choices=people_choices(contact_persons(programme))
    )


def _transfers_page(
    request: HttpRequest,
    programme: Programme,
    *,
    bound: AcceptTransferForm | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    """The transfers page; ``bound`` is an answer sent with an error, shown in its place,
    and ``refusal`` why an answer came too late (the proposal expired or was answered)."""
    rows = list(transfer_services.transfers_for(staff_user(request)))
    incoming = [t for t in rows if t.to_programme_id == programme.pk]
    waiting = [t for t in incoming if t.state == CaseTransfer.State.PROPOSED]
    forms = {t.pk: _accept_form(programme, t) for t in waiting}
    if bound is not None and bound.prefix is not None:
        forms[int(bound.prefix.removeprefix("transfer-"))] = bound
    context = {
        "programme": programme,
        "waiting": [(t, forms[t.pk]) for t in waiting],
        "answered": [t for t in incoming if t.state != CaseTransfer.State.PROPOSED],
        "outgoing": [t for t in rows if t.from_programme_id == programme.pk],
        "refusal": refusal,
        "page": "programme",
    }
    return render(request, "inbox/programme/transfers.html", context, status=status)


@require_GET
@staff_page
def transfers_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    return _transfers_page(request, programme_to_administer(staff_user(request), programme_id))


def _incoming(request: HttpRequest, programme: Programme, transfer_id: int) -> CaseTransfer:
    """A transfer into ``programme`` (its URL names both)."""
    transfer = transfer_services.transfer_for_receiver(staff_user(request), transfer_id)
    if transfer.to_programme_id != programme.pk:
        raise Problem(status_code=404, slug="not-found", detail="No such transfer.")
    return transfer


@require_POST
@staff_page
def accept_view(request: HttpRequest, programme_id: int, transfer_id: int) -> HttpResponse:
    user = staff_user(request)
    programme = programme_to_administer(user, programme_id)
    transfer = _incoming(request, programme, transfer_id)
    form = _accept_form(programme, transfer, request.POST)
    status = 400
    if form.is_valid():
        try:
            transfer_services.accept_transfer(
                transfer=transfer, actor=user, primary_contact=form.cleaned_data["primary_contact"]
            )
        except Problem as problem:
            if problem.status_code == HTTPStatus.CONFLICT:
                return _transfers_page(request, programme, refusal=conflict_text(problem), status=HTTPStatus.CONFLICT)
            status = show_refusal(form, problem)
        else:
            return HttpResponseRedirect(reverse("programme-page-transfers", args=[programme.pk]))
    return _transfers_page(request, programme, bound=form, status=status)


@require_POST
@staff_page
def decline_view(request: HttpRequest, programme_id: int, transfer_id: int) -> HttpResponse:
    user = staff_user(request)
    programme = programme_to_administer(user, programme_id)
    transfer = _incoming(request, programme, transfer_id)
    try:
        transfer_services.decline_transfer(transfer=transfer, actor=user)
    except Problem as problem:
        if problem.status_code != HTTPStatus.CONFLICT:
            raise
        return _transfers_page(request, programme, refusal=conflict_text(problem), status=HTTPStatus.CONFLICT)
    return HttpResponseRedirect(reverse("programme-page-transfers", args=[programme.pk]))


urlpatterns = [
    path("cases/<int:case_id>/transfer", propose_view, name="programme-page-case-transfer"),
    path("transfers/", transfers_view, name="programme-page-transfers"),
    path("transfers/<int:transfer_id>/accept", accept_view, name="programme-page-transfer-accept"),
    path("transfers/<int:transfer_id>/decline", decline_view, name="programme-page-transfer-decline"),
]
