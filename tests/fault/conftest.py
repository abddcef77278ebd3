"""The fault tests' real processes (``server_processes.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings

from tests.conftest import ON_POSTGRES, needs
from tests.fault.server_processes import ROOT, ServerProcesses, the_test_database_url


@pytest.fixture
def server_processes(transactional_db, tmp_path) -> Iterator[ServerProcesses]:
    """Starts nothing itself; whatever the test starts is killed before the test
    database is flushed (this fixture is torn down first: it depends on it)."""
    needs("PostgreSQL", ON_POSTGRES, "set DATABASE_URL to a PostgreSQL database")
    env = {
        **os.environ,
        "DATABASE_URL": the_test_database_url(),
        "PYTHONPATH": str(ROOT),
        # The same development keys as this process, so each side opens what the other sealed.
        "LIVLINA_DATA_DIR": str(settings.DATA_DIR),
    }
    processes = ServerProcesses(tmp_path, env)
    try:
        yield processes
    finally:
        processes.stop_all()
