"""What the API fuzzing tests share: the callers' credentials, the WSGI application
inside the test's transaction, and a summary of what was sent, printed after the run
(the figures in docs/security.md)."""

from __future__ import annotations

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.factories import StaffDeviceSessionFactory

SUMMARY = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SUMMARY] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for line in config.stash[SUMMARY]:
        terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def fuzz_summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines a fuzzing module adds to the end of the run's output."""
    return request.config.stash[SUMMARY]


@pytest.fixture
def wsgi_in_test_transaction():
    # Django's WSGI handler closes the database connection when a request ends; the test
    # client turns that off, and so must a test that calls the WSGI application itself.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer_headers(case, contact, supervisor, defector_device) -> dict[str, dict[str, str]]:
    """Headers for each of ``served_schema.ROLES``."""
    phones = {
        "contact_person": StaffDeviceSessionFactory(user=contact.user),
        "supervisor": StaffDeviceSessionFactory(user=supervisor.user),
        "defector": defector_device,
    }
    headers = {role: {"Authorization": f"Bearer {session.access_token}"} for role, session in phones.items()}
    return headers | {"anonymous": {}}
