"""The worker loop (``backend/worker.py``): each job works in small committed batches."""

from __future__ import annotations


def test_the_worker_drains_a_crowd_in_small_batches():
    from backend.worker.loop import until_drained

    calls = []

    def batch(*, limit):
        calls.append(limit)
        return limit if len(calls) < 4 else 3

    assert until_drained(batch, limit=10)() == 33
    assert calls == [10, 10, 10, 10]
