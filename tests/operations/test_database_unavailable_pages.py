"""A page outside the API whose database stops answering mid-request gets a 503 with
Retry-After and one warning line, not a 500 with a traceback. The database failure is
simulated (the queue's read raises the error a dropped connection raises); the real
dropped connections are in tests/fault/test_database_backends_terminated.py (API and
socket)."""

from __future__ import annotations

import logging

from django.db import OperationalError

from backend.inbox import views as inbox_views


def test_an_inbox_page_answers_503_when_the_database_does_not(case, contact, as_staff, monkeypatch, caplog):
    client = as_staff(contact)

    def connection_lost(*_args, **_kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(inbox_views, "work_queue", connection_lost)
    with caplog.at_level(logging.WARNING):
        response = client.get("/inbox/")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response["Content-Type"].startswith("text/html")
    assert "Försök igen om en stund" in response.content.decode()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "database unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert not any(r.exc_info for r in caplog.records)

    monkeypatch.undo()
    assert client.get("/inbox/").status_code == 200  # the next request is served as usual


def test_another_error_is_still_a_server_error(case, contact, as_staff, monkeypatch):
    """Only the database not answering is a 503: a bug stays a 500, to be fixed."""
    client = as_staff(contact)
    client.raise_request_exception = False

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(inbox_views, "work_queue", broken)
    assert client.get("/inbox/").status_code == 500
