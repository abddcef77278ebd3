"""Schemathesis against the served OpenAPI schema, in process: every operation, as a
defector's device, a contact person's phone, a supervisor's phone and anonymously, with a
bounded number of generated requests each (``LIVLINA_FUZZ_EXAMPLES``, default 4, fixed
seeds so a run is repeatable). Never a server error; every error is problem+json.

Inputs that once broke the API are kept as their own tests where they were fixed
(``tests/project/test_malformed_requests.py``, ``tests/messaging/test_socket.py``)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.factories import StaffDeviceSessionFactory

EXAMPLES = int(os.environ.get("LIVLINA_FUZZ_EXAMPLES", "4"))
ROLES = ["anonymous", "defector", "contact_person", "supervisor"]


def _config() -> SchemathesisConfig:
    config = SchemathesisConfig()
    # The schema's examples and generated requests; the coverage phase's exhaustive
    # boundary cases would cost minutes per operation.
    config.projects.default.phases.update(phases=["examples", "fuzzing"])
    return config


schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application(), config=_config())


@pytest.fixture(autouse=True)
def _keep_the_test_transaction_open():
    # Django's WSGI handler closes the database connection when a request ends; the test
    # client turns that off, and so must a test that calls the WSGI application itself.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer_headers(case, contact, supervisor, defector_device) -> dict[str, dict[str, str]]:
    phones = {
        "contact_person": StaffDeviceSessionFactory(user=contact.user),
        "supervisor": StaffDeviceSessionFactory(user=supervisor.user),
        "defector": defector_device,
    }
    headers = {role: {"Authorization": f"Bearer {session.access_token}"} for role, session in phones.items()}
    return headers | {"anonymous": {}}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_answers_a_server_error_or_an_error_that_is_not_a_problem(case, bearer_headers):
    # Each generated request is sent as every role.
    for role in ROLES:
        response = case.call(headers=bearer_headers[role])
        where = (role, case.method, case.formatted_path, response.status_code)
        assert response.status_code < 500, (*where, response.text[:300])
        if response.status_code >= 400:
            assert content_type(response) == "application/problem+json", where


def content_type(response) -> str:
    values = {name.lower(): value for name, value in response.headers.items()}.get("content-type", "")
    return values[0] if isinstance(values, list) else values
