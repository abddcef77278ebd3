"""What the case, transfer and on-call pages say when a service refuses: the services'
problems are in English for the API; a page shows the reader's language, next to the
field that is wrong."""

from __future__ import annotations

from http import HTTPStatus

from django import forms
from django.http import HttpRequest, QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from backend.problems import Problem

# By the problem's slug (a 409: the object's state refuses the act).
CONFLICTS: dict[str, Promise] = {
    "primary-required": _("A case always has a primary contact person: name another one first."),
    "case-closed": _("The case is closed."),
    "case-open": _("Close the case before destroying its content."),
    "case-erased": _("The case's content is already destroyed."),
    "second-supervisor-needed": _("You asked for this yourself: another supervisor must confirm."),
    "transfer-pending": _("A move of this case is already waiting for an answer."),
    "transfer-expired": _("The proposal has expired; the sending programme may propose the move again."),
    "transfer-decided": _("The proposal has already been answered."),
    "case-changed": _("The case was closed or moved meanwhile."),
}

# A 400 from a service names the field; the form's own choices make one rare (someone's
# role changed between showing the form and sending it).
INVALID_CHOICE = _("This choice is no longer possible. Choose again from the list.")


def sent(request: HttpRequest) -> QueryDict | None:
    """What a form was sent with: None (an unbound form) for a GET; a POST binds the form
    even when empty, so sending nothing shows what is missing."""
    return request.POST if request.method == "POST" else None


def conflict_text(problem: Problem) -> str:
    return str(CONFLICTS.get(problem.slug, problem.detail))


def show_refusal(form: forms.Form, problem: Problem, fields: dict[str, str] | None = None) -> int:
    """Put ``problem`` on ``form`` (next to its field where it names one: the API's field
    names map to the form's through ``fields``) and return the status the page answers
    with. A refusal that no form field explains (403, 404) goes on as a page."""
    if problem.status_code not in (HTTPStatus.BAD_REQUEST, HTTPStatus.CONFLICT):
        raise problem
    field = (fields or {}).get(problem.field or "", problem.field)
    text = str(INVALID_CHOICE) if problem.status_code == HTTPStatus.BAD_REQUEST else conflict_text(problem)
    form.add_error(field if field in form.fields else None, text)
    return problem.status_code


def form_status(form: forms.Form, refused: int | None) -> int:
    """A page's status after a form was sent: the service's refusal, else 400 for a form
    with errors, else 200."""
    return refused or (HTTPStatus.BAD_REQUEST if form.errors else HTTPStatus.OK)
