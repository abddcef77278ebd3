"""A programme's escalation policy: reading it, and replacing it (supervisors).

An alert copies the policy when it starts escalating (``crisis.services``), so a change
here never alters a running escalation."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from backend.accounts.models import Programme, User
from backend.audit.services import record_event
from backend.crisis.models import EscalationPolicy, StepAction
from backend.problems import Problem

# What a programme without a policy of its own gets.
DEFAULT_STEPS: list[dict[str, Any]] = [
    {"action": StepAction.NOTIFY_CONTACTS},
    {"action": StepAction.WAIT, "minutes": 5},
    {"action": StepAction.NOTIFY_ON_CALL},
    {"action": StepAction.WAIT, "minutes": 5},
    {"action": StepAction.NOTIFY_SUPERVISORS},
    {"action": StepAction.WAIT, "minutes": 10},
]
DEFAULT_REPEAT = 3


def policy_for(programme: Programme) -> dict[str, Any]:
    policy = EscalationPolicy.objects.filter(programme=programme).first()
    if policy is None:
        return {"steps": DEFAULT_STEPS, "repeat": DEFAULT_REPEAT}
    return {"steps": policy.steps, "repeat": policy.repeat}


def set_policy(*, programme: Programme, steps: list[dict[str, Any]], repeat: int, actor: User) -> dict[str, Any]:
    """Replace the policy. Running escalations keep the copy they started with."""
    clean = [
        {"action": s["action"], **({"minutes": s["minutes"]} if s["action"] == StepAction.WAIT else {})} for s in steps
    ]
    if all(step["action"] == StepAction.WAIT for step in clean):
        raise Problem(status_code=400, slug="validation", detail="A policy must notify someone.", field="steps")
    with transaction.atomic():
        EscalationPolicy.objects.update_or_create(programme=programme, defaults={"steps": clean, "repeat": repeat})
        record_event(action="escalation_policy.changed", actor=actor, details={"programme": programme.pk})
    return policy_for(programme)
