"""Who may administer what, asked the same way by the API and the inbox's programme
pages: a programme or a case is "not found" to anyone outside its programme and
"forbidden" to staff of the programme whose role may not act."""

from __future__ import annotations

from collections.abc import Callable

from backend.accounts.models import Programme, User
from backend.cases import policy
from backend.cases.models import Case
from backend.problems import Problem

RoleQuestion = Callable[[User, int], bool]


def forbidden(detail: str) -> Problem:
    return Problem(status_code=403, slug="forbidden", detail=detail)


def programme_for(user: User, programme_id: int, allowed: RoleQuestion, refusal: str) -> Programme:
    programme = Programme.objects.filter(pk=programme_id).first()
    if programme is None or not policy.works_in_programme(user, programme_id):
        raise Problem(status_code=404, slug="not-found", detail="No such programme.")
    if not allowed(user, programme_id):
        raise forbidden(refusal)
    return programme


def case_for(user: User, case_id: int, allowed: RoleQuestion, refusal: str) -> Case:
    case = policy.programme_case(user, case_id)
    if not allowed(user, case.programme_id):
        raise forbidden(refusal)
    return case
