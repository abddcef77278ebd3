"""Real concurrency for database tests: each function runs in a thread of its own, with a
database connection of its own, and all start at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_together(*functions: Callable[[], object]) -> list[object]:
    """Run ``functions`` at once, each in its own thread; return their results in order,
    or raise the first exception any of them raised (after all have finished)."""
    start = threading.Barrier(len(functions))
    results: list[object] = [None] * len(functions)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = functions[index]()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()  # each thread opened its own

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
