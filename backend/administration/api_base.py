"""The base of the administration endpoints: the access questions of ``access`` asked
for the authenticated staff member."""

from __future__ import annotations

from backend.accounts.api_views import StaffAPIView
from backend.accounts.models import Programme
from backend.administration import access
from backend.administration.access import RoleQuestion
from backend.cases.models import Case


class AdministrationAPIView(StaffAPIView):
    def programme_for(self, programme_id: int, allowed: RoleQuestion, refusal: str) -> Programme:
        return access.programme_for(self.staff_user, programme_id, allowed, refusal)

    def case_for(self, case_id: int, allowed: RoleQuestion, refusal: str) -> Case:
        return access.case_for(self.staff_user, case_id, allowed, refusal)
