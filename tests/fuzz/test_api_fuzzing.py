"""Schemathesis against the served OpenAPI schema, in process: every operation, as a
defector's device, a contact person's phone, a supervisor's phone and anonymously, with
every check schemathesis has for single requests: no server error; status code, content
type and body as the schema documents them (every error is documented as
application/problem+json with the Problem schema, so every error must be one);
documented headers; schema-valid requests accepted and schema-violating ones refused;
credentials enforced (ignored_auth, which re-sends a request without and with invalid
credentials); 405 with ``Allow`` for a method the schema does not list and refusal of a
missing required header (unsupported_method, missing_required_header: coverage phase).
The stateful checks (use_after_free, ensure_resource_availability,
object_level_authorization) belong to the stateful phase, which is not run.

Three phases (``served_schema.CONFIG``): the schema's examples, the coverage phase
(deterministic boundary values, wrong types, missing parameters, unlisted methods:
bounded by the schema, not by a count) and generated requests (``LIVLINA_FUZZ_EXAMPLES``
per operation, default 4), with fixed seeds, so a run is repeatable. What was sent is
printed at the end of the run.

A request valid by the schema may still break a rule the schema cannot state (a stored
row, the clock, a grammar); the body's schema names those fields under
``x-rules-beyond-schema``, and a 400 whose errors name only such fields passes
positive_data_acceptance (``rules_beyond_the_schema_only``). Any other refusal fails it.

Requests that once failed are replayed in ``test_api_fuzzing_regressions.py``."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from django.core.signals import request_started
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.fuzz.served_schema import ROLES, rules_beyond_the_schema_only, schema

EXAMPLES = int(os.environ.get("LIVLINA_FUZZ_EXAMPLES", "4"))

SENT: Counter[str] = Counter()


def _count_request(**_: object) -> None:
    SENT["requests"] += 1


@pytest.fixture(scope="module", autouse=True)
def _report_what_was_sent(fuzz_summary):
    SENT.clear()
    request_started.connect(_count_request)
    yield
    request_started.disconnect(_count_request)
    if SENT["cases"]:
        phases = ", ".join(f"{SENT[phase]} {phase}" for phase in ("examples", "coverage", "fuzzing"))
        fuzz_summary.append(
            f"schemathesis: {SENT['cases']} generated requests ({phases}), each sent as {len(ROLES)} roles;"
            f" {SENT['requests']} requests in all, with those the checks send themselves"
        )


def positive_data_acceptance_within_the_schema(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """schemathesis's positive_data_acceptance, but for rules the schema says it cannot state."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if rules_beyond_the_schema_only(response, case):
            return None
        raise


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_its_schema_says(case, bearer_headers, wsgi_in_test_transaction):
    SENT["cases"] += 1
    SENT[case.meta.phase.name.value if case.meta else "examples"] += 1
    # Each generated request is sent as every role; every check runs on every answer.
    for role in ROLES:
        case.call_and_validate(
            headers=bearer_headers[role],
            excluded_checks=[positive_data_acceptance],
            additional_checks=[positive_data_acceptance_within_the_schema],
        )
