"""The two moves every background job makes, written once.

- ``claim_due_rows``: take the due rows of a table with ``SELECT … FOR UPDATE SKIP
  LOCKED``, so any number of workers share the work and never wait for each other.
  Without a lease the rows stay locked until the caller's transaction ends (a sweep that
  does its work inside that transaction). With a ``Lease`` the claim commits at once,
  writing on the rows who holds them and until when; the work runs in later transactions,
  and a worker that dies leaves leases that expire, so another takes the rows over.
- ``run_in_bulk_else_one_by_one``: do a batch with a few statements and, should that fail,
  each item on its own, so one bad item never holds up the others.

On SQLite ``select_for_update`` is a no-op: its single write lock serialises the claims.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.db.transaction import TransactionManagementError

__all__ = ["Failed", "Lease", "claim_due_rows", "run_in_bulk_else_one_by_one"]

M = TypeVar("M", bound=Model)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Lease:
    """A claim that outlives its transaction. A row whose ``until_field`` is unset or not
    after ``now`` is free; claiming it sets that field to ``now + length`` and the ``also``
    columns (the claiming worker's name, an attempt counter as an ``F`` expression)."""

    now: dt.datetime
    length: dt.timedelta
    until_field: str = "lease_until"
    also: Mapping[str, Any] = field(default_factory=dict)

    def free(self) -> Q:
        return Q(**{f"{self.until_field}__isnull": True}) | Q(**{f"{self.until_field}__lte": self.now})


def claim_due_rows(
    rows: QuerySet[M],
    *,
    due: Q,
    order_by: Sequence[str],
    limit: int | None = None,
    lock_only_self: bool = False,
    lease: Lease | None = None,
) -> list[M]:
    """Lock and return up to ``limit`` rows of ``rows`` matching ``due``, in ``order_by``
    order, skipping rows another transaction holds.

    ``rows`` may ``select_related`` what the caller needs; ``lock_only_self`` then locks
    the table's own rows only (``FOR UPDATE OF self``), never the rows they join to: a
    sweep that locked a check-in's case would deadlock with a writer that holds the audit
    log and raises an alert for that case.

    Without ``lease``: call inside the caller's transaction, which keeps the rows locked
    until it ends (refused outside one, on every database, so a claim never silently
    lasts one statement). With ``lease``: only rows whose lease is free are due; the
    claim runs in a transaction of its own that writes the lease on the claimed rows, and
    the caller works on them after it commits."""
    if lease is None and not transaction.get_connection(rows.db).in_atomic_block:
        raise TransactionManagementError("claim rows without a lease inside the transaction that works on them")
    with transaction.atomic(using=rows.db):
        query = rows.select_for_update(skip_locked=True, of=("self",) if lock_only_self else ()).filter(due)
        if lease is not None:
            query = query.filter(lease.free())
        query = query.order_by(*order_by)
        claimed = list(query if limit is None else query[:limit])
        if claimed and lease is not None:
            rows.filter(pk__in=[row.pk for row in claimed]).update(
                **{lease.until_field: lease.now + lease.length}, **lease.also
            )
    return claimed


@dataclass(frozen=True)
class Failed:
    """The outcome of an item whose own run raised: the error was logged and, with
    savepoints, the item's writes rolled back, so the item is as it was before."""

    error: Exception


def run_in_bulk_else_one_by_one(
    items: Iterable[T],
    *,
    bulk: Callable[[Sequence[T]], Sequence[R]] | None = None,
    single: Callable[[T], R] | None = None,
    what: str,
    logger: logging.Logger,
    race: type[Exception] | None = None,
    isolate: bool = True,
    savepoints: bool = True,
) -> list[R | Failed]:
    """Run ``bulk`` over all ``items`` (one outcome per item, in order) and, should it
    fail, ``single`` for each item in turn. Returns one outcome per item, in order.

    - ``single`` defaults to ``bulk`` over a batch of one, so a job keeps one
      implementation. A batch of one that fails is then not run again: its failure is
      the item's.
    - Without ``bulk``, the items are run one by one from the start, read lazily (a job
      may stop handing them out, e.g. when its time is up).
    - ``race``: the one error that sends the batch one by one, logged at INFO without a
      traceback (another transaction won a race, which happens in normal running); any
      other error of the batch propagates. Without it, any ``Exception`` does, logged
      with its traceback.
    - ``isolate``: an item whose own run raises is logged and its outcome is ``Failed``,
      and the others go on. With ``isolate=False`` the error propagates to the caller.
    - ``savepoints``: the batch, and each item, in ``transaction.atomic()``, so a failure
      leaves no half-written rows (inside the caller's transaction these are savepoints;
      outside one, transactions of their own). Off for work that writes nothing to roll
      back, such as a network send.

    A failed batch rolls back the database, not Python objects: ``bulk`` must leave the
    items as it found them (read what it changes afresh, or write with ``update()``), so
    the one-by-one pass starts from the state the batch did.

    ``BaseException``s (a worker killed with ``SystemExit``) always propagate: the
    caller's transaction rolls back and nothing is left half done."""
    if bulk is None and single is None:
        raise TypeError("run_in_bulk_else_one_by_one needs bulk, single or both")

    def step() -> contextlib.AbstractContextManager[Any]:
        return transaction.atomic() if savepoints else contextlib.nullcontext()

    if bulk is None:
        assert single is not None
        return _one_by_one(items, single, what=what, logger=logger, isolate=isolate, step=step)
    batch = list(items)
    if not batch:
        return []
    fall_back_on = race or Exception
    try:
        with step():
            outcomes: list[R | Failed] = list(bulk(batch))
    except fall_back_on as error:
        if single is None and len(batch) == 1:
            return [_failed_alone(batch[0], error, what=what, logger=logger, isolate=isolate)]
        if race is not None:
            logger.info("%s: a batch of %d lost a race (%r); trying each on its own", what, len(batch), error)
        else:
            logger.exception("%s: a batch of %d failed; trying each on its own", what, len(batch))
        return _one_by_one(batch, single or _alone(bulk), what=what, logger=logger, isolate=isolate, step=step)
    if len(outcomes) != len(batch):
        raise ValueError(f"{what}: the batch gave {len(outcomes)} outcomes for {len(batch)} items")
    return outcomes


def _failed_alone(item: object, error: Exception, *, what: str, logger: logging.Logger, isolate: bool) -> Failed:
    """A batch of one that failed: its failure is the item's (not run a second time)."""
    if not isolate:
        raise error
    logger.exception("%s %s failed", what, _describe(item), exc_info=error)
    return Failed(error)


def _alone(bulk: Callable[[Sequence[T]], Sequence[R]]) -> Callable[[T], R]:
    def single(item: T) -> R:
        (outcome,) = bulk([item])
        return outcome

    return single


def _one_by_one(
    items: Iterable[T],
    single: Callable[[T], R],
    *,
    what: str,
    logger: logging.Logger,
    isolate: bool,
    step: Callable[[], contextlib.AbstractContextManager[Any]],
) -> list[R | Failed]:
    outcomes: list[R | Failed] = []
    for item in items:
        try:
            with step():
                outcome = single(item)
        except Exception as error:
            if not isolate:
                raise
            # Left as it was: claimed again by a later pass (or when its lease expires).
            logger.exception("%s %s failed; the others go on", what, _describe(item))
            outcomes.append(Failed(error))
        else:
            outcomes.append(outcome)
    return outcomes


def _describe(item: object) -> object:
    """A row by its primary key (never its content, which may be sealed case data)."""
    return item.pk if isinstance(item, Model) else item
