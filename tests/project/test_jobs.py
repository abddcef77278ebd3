"""The two core job helpers (``backend.jobs``): claiming due rows (SKIP LOCKED, with or
without a lease) and running a batch in bulk, else one by one."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from backend.accounts.models import Device, Programme
from backend.jobs import Failed, Lease, claim_due_rows, run_in_bulk_else_one_by_one
from backend.push.models import PushOutbox
from tests.conftest import requires_postgres
from tests.threads import run_together

logger = logging.getLogger("tests.jobs")
LEASE = dt.timedelta(seconds=60)
# How long a thread waits for the other before the test gives up (never reached when it passes).
PATIENCE = 10


def due_rows(user, count: int, *, now: dt.datetime) -> list[PushOutbox]:
    device = Device.objects.create(
        user=user, name="p", platform="android", signing_key="a" * 44, box_key="b" * 44, push_token="t"
    )
    return [
        PushOutbox.objects.create(device=device, kind="message", next_attempt_at=now - dt.timedelta(seconds=count - i))
        for i in range(count)
    ]


def claim(*, now: dt.datetime, limit: int | None = None, lease: bool = True, **options) -> list[PushOutbox]:
    return claim_due_rows(
        PushOutbox.objects.all(),
        due=Q(state=PushOutbox.State.PENDING, next_attempt_at__lte=now),
        order_by=("next_attempt_at",),
        limit=limit,
        lease=Lease(now=now, length=LEASE, also={"attempts": F("attempts") + 1}) if lease else None,
        **options,
    )


# Claiming


def test_a_claim_takes_the_due_rows_in_order_up_to_the_limit(contact):
    now = timezone.now()
    rows = due_rows(contact.user, 3, now=now)
    PushOutbox.objects.create(device=rows[0].device, kind="message", next_attempt_at=now + dt.timedelta(minutes=1))
    with transaction.atomic():
        assert claim(now=now, limit=2, lease=False) == rows[:2]
        assert claim(now=now, lease=False) == rows  # no lease: the same transaction sees them all again


def test_a_lease_is_written_on_the_claimed_rows_and_respected_until_it_expires(contact):
    now = timezone.now()
    rows = due_rows(contact.user, 3, now=now)

    first = claim(now=now, limit=2)
    assert first == rows[:2]
    leased = {row.pk: row for row in PushOutbox.objects.filter(pk__in=[r.pk for r in first])}
    assert all(row.lease_until == now + LEASE and row.attempts == 1 for row in leased.values())
    assert claim(now=now) == rows[2:]  # the leased rows are not due again
    assert claim(now=now + LEASE / 2) == []
    assert claim(now=now + LEASE) == rows  # every lease has expired: all are claimable
    assert set(PushOutbox.objects.values_list("attempts", flat=True)) == {2}


def test_a_claim_without_a_lease_is_refused_outside_a_transaction(transactional_db, contact):
    due_rows(contact.user, 1, now=timezone.now())
    with pytest.raises(TransactionManagementError):
        claim(now=timezone.now(), lease=False)
    assert len(claim(now=timezone.now())) == 1  # a leased claim commits on its own


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_claiming_at_once_skip_each_others_rows(contact):
    now = timezone.now()
    rows = due_rows(contact.user, 4, now=now)
    first_holds, second_done = threading.Event(), threading.Event()

    def first() -> list[PushOutbox]:
        with transaction.atomic():
            claimed = claim(now=now, limit=2, lease=False)
            first_holds.set()
            second_done.wait(PATIENCE)  # hold the row locks while the second claims
        return claimed

    def second() -> list[PushOutbox]:
        first_holds.wait(PATIENCE)
        with transaction.atomic():
            claimed = claim(now=now, lease=False)
        second_done.set()
        return claimed

    assert run_together(first, second) == [rows[:2], rows[2:]]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_committed_lease_is_respected_by_another_connection(contact):
    now = timezone.now()
    rows = due_rows(contact.user, 3, now=now)
    leased = threading.Event()

    def first() -> list[PushOutbox]:
        claimed = claim(now=now, limit=2)
        leased.set()
        return claimed

    def second() -> list[PushOutbox]:
        leased.wait(PATIENCE)
        return claim(now=now)

    assert run_together(first, second) == [rows[:2], rows[2:]]


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("lock_only_self", "device_locked"), [(True, False), (False, True)])
def test_lock_only_self_leaves_the_joined_rows_unlocked(contact, lock_only_self, device_locked):
    now = timezone.now()
    (row,) = due_rows(contact.user, 1, now=now)
    claimed, checked = threading.Event(), threading.Event()

    def claimer() -> None:
        with transaction.atomic():
            claim_due_rows(
                PushOutbox.objects.select_related("device"),
                due=Q(next_attempt_at__lte=now),
                order_by=("pk",),
                lock_only_self=lock_only_self,
            )
            claimed.set()
            checked.wait(PATIENCE)

    def other_writer() -> bool:
        claimed.wait(PATIENCE)
        try:
            with transaction.atomic():
                Device.objects.select_for_update(nowait=True).get(pk=row.device_id)
            return False
        except DatabaseError:
            return True
        finally:
            checked.set()

    assert run_together(claimer, other_writer) == [None, device_locked]


# Bulk, else one by one


def programmes(names):
    """A bulk step that writes a programme per name, then fails if any name is ``bad``."""
    made = [Programme.objects.create(name=name) for name in names]
    if "bad" in names:
        raise RuntimeError("a bad item")
    return made


def names_stored() -> list[str]:
    return sorted(Programme.objects.values_list("name", flat=True))


def test_a_batch_that_works_is_written_once_in_bulk(db):
    calls = []

    def bulk(names):
        calls.append(list(names))
        return programmes(names)

    outcomes = run_in_bulk_else_one_by_one(["a", "b"], bulk=bulk, what="programme", logger=logger)
    assert calls == [["a", "b"]]
    assert [p.name for p in outcomes] == ["a", "b"]


def test_one_failing_item_is_logged_and_rolled_back_and_the_others_are_kept(db, caplog):
    with caplog.at_level(logging.ERROR, logger="tests.jobs"):
        outcomes = run_in_bulk_else_one_by_one(["a", "bad", "c"], bulk=programmes, what="programme", logger=logger)
    assert [type(o).__name__ for o in outcomes] == ["Programme", "Failed", "Programme"]
    assert isinstance(outcomes[1], Failed) and str(outcomes[1].error) == "a bad item"
    assert names_stored() == ["a", "c"]  # neither the failed batch nor the failed item left a row
    assert [r.getMessage() for r in caplog.records] == [
        "programme: a batch of 3 failed; trying each on its own",
        "programme bad failed; the others go on",
    ]


def test_a_batch_of_one_that_fails_is_not_run_again(db):
    calls = []

    def bulk(names):
        calls.append(list(names))
        return programmes(names)

    (outcome,) = run_in_bulk_else_one_by_one(["bad"], bulk=bulk, what="programme", logger=logger)
    assert isinstance(outcome, Failed)
    assert calls == [["bad"]]
    assert names_stored() == []


def test_a_single_form_of_its_own_runs_each_item_after_the_batch_fails(db):
    outcomes = run_in_bulk_else_one_by_one(
        ["a", "bad"], bulk=programmes, single=lambda name: f"alone:{name}", what="programme", logger=logger
    )
    assert outcomes == ["alone:a", "alone:bad"]
    assert names_stored() == []


def test_with_a_race_only_that_error_goes_one_by_one_and_others_propagate(db, caplog):
    def racing(names):
        programmes(names)
        raise IntegrityError("another transaction was first")

    with caplog.at_level(logging.INFO, logger="tests.jobs"):
        outcomes = run_in_bulk_else_one_by_one(
            ["a", "b"], bulk=racing, single=str.upper, what="programme", logger=logger, race=IntegrityError
        )
    assert outcomes == ["A", "B"]
    assert [(r.levelno, r.exc_info) for r in caplog.records] == [(logging.INFO, None)]
    with pytest.raises(RuntimeError):
        run_in_bulk_else_one_by_one(
            ["a", "bad"], bulk=programmes, single=str.upper, what="programme", logger=logger, race=IntegrityError
        )


def test_without_isolation_a_failing_item_propagates(db):
    def single(name):
        raise ValueError(name)

    with pytest.raises(ValueError, match="b"):
        run_in_bulk_else_one_by_one(["b"], single=single, what="programme", logger=logger, isolate=False)


def test_a_killed_worker_is_never_caught(db):
    def killed(name):
        raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        run_in_bulk_else_one_by_one(["a", "bad"], bulk=programmes, single=killed, what="programme", logger=logger)
    with pytest.raises(SystemExit):
        run_in_bulk_else_one_by_one(["a"], single=killed, what="programme", logger=logger)


def test_without_a_bulk_form_items_are_read_lazily_one_by_one(db):
    handed_out = []

    def items():
        for name in ["a", "bad", "c", "never"]:
            if name == "never":
                return  # e.g. the job's time is up
            handed_out.append(name)
            yield name

    outcomes = run_in_bulk_else_one_by_one(
        items(), single=lambda name: programmes([name])[0], what="programme", logger=logger
    )
    assert [getattr(o, "name", "failed") for o in outcomes] == ["a", "failed", "c"]
    assert handed_out == ["a", "bad", "c"]
    assert names_stored() == ["a", "c"]


def test_without_savepoints_a_failing_item_keeps_what_it_wrote(db):
    (outcome,) = run_in_bulk_else_one_by_one(
        ["bad"], single=lambda name: programmes([name]), what="programme", logger=logger, savepoints=False
    )
    assert isinstance(outcome, Failed)
    assert names_stored() == ["bad"]


def test_a_bulk_form_must_give_one_outcome_per_item(db):
    with pytest.raises(ValueError, match="1 outcomes for 2 items"):
        run_in_bulk_else_one_by_one(["a", "b"], bulk=lambda names: ["one"], what="programme", logger=logger)
