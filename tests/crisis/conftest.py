from __future__ import annotations

import datetime as dt

import pytest

from backend.accounts.models import Device
from backend.crisis.models import OnCallRotation
from tests.factories import DeviceFactory


@pytest.fixture
def phone_of():
    """A staff member's enrolled phone, so that escalation has someone to push to."""

    def make(staff) -> Device:
        return DeviceFactory(user=staff.user)

    return make


@pytest.fixture
def rotation(programme, oncall) -> OnCallRotation:
    """The on-call worker is on call around the clock from 2026-01-01."""
    return OnCallRotation.objects.create(
        programme=programme,
        name="jour",
        members=[oncall.user.pk],
        start_date=dt.date(2026, 1, 1),
        handoff_time=dt.time(8, 0),
        shift_days=7,
        timezone="Europe/Stockholm",
    )
