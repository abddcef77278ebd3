"""A programme's escalation policy: reading it, and replacing it (supervisors).

An alert copies the policy when it starts escalating (``crisis.services``), so a change
here never alters a running escalation."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from django.db import transaction

from backend.accounts.models import Programme, User
from backend.audit.services import record_event
from backend.crisis.models import EscalationPolicy, StepAction
from backend.problems import Problem


class PolicyStep(TypedDict):
    action: StepAction
    minutes: NotRequired[int]  # a wait step's only


class PolicyShape(TypedDict):
    steps: list[PolicyStep]
    repeat: int


# What a programme without a policy of its own gets.
DEFAULT_STEPS: list[PolicyStep] = [
    {"action": StepAction.NOTIFY_CONTACTS},
    {"action": StepAction.WAIT, "minutes": 5},
    {"action": StepAction.NOTIFY_ON_CALL},
    {"action": StepAction.WAIT, "minutes": 5},
    {"action": StepAction.NOTIFY_SUPERVISORS},
    {"action": StepAction.WAIT, "minutes": 10},
]
DEFAULT_REPEAT = 3


def policy_for(programme: Programme) -> PolicyShape:
    policy = EscalationPolicy.objects.filter(programme=programme).first()
    if policy is None:
        return PolicyShape(steps=DEFAULT_STEPS, repeat=DEFAULT_REPEAT)
    # The JSON column holds what `set_policy` stored: PolicyStep objects.
    return PolicyShape(steps=policy.steps, repeat=policy.repeat)


def _clean_step(step: dict[str, Any]) -> PolicyStep:
    """The step as stored: a wait keeps its minutes, any other step has none."""
    action = StepAction(step["action"])
    if action == StepAction.WAIT:
        return PolicyStep(action=action, minutes=step["minutes"])
    return PolicyStep(action=action)


def set_policy(*, programme: Programme, steps: list[dict[str, Any]], repeat: int, actor: User) -> PolicyShape:
    """Replace the policy. Running escalations keep the copy they started with."""
    clean = [_clean_step(s) for s in steps]
    if all(step["action"] == StepAction.WAIT for step in clean):
        raise Problem(status_code=400, slug="validation", detail="A policy must notify someone.", field="steps")
    with transaction.atomic():
        EscalationPolicy.objects.update_or_create(programme=programme, defaults={"steps": clean, "repeat": repeat})
        record_event(action="escalation_policy.changed", actor=actor, details={"programme": programme.pk})
    return policy_for(programme)
