"""Group commit for the socket send path: the sends that arrive while one batch is being
stored go into the next, so a busy server commits many senders' messages in one
transaction (and a quiet one still stores each send at once, in a batch of one)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchFailedError(Exception):
    """The batch as a whole failed (the run raised, or answered the wrong number of items)."""


class BatchQueue(Generic[Item, Result]):
    """``submit`` waits for its item's result; ``run`` takes a list of items and returns
    one result (or an exception to raise to that submitter) per item, in order. One
    batch runs at a time; at most ``max_batch`` items go into one."""

    def __init__(self, run: Callable[[list[Item]], Awaitable[list[Result | Exception]]], *, max_batch: int) -> None:
        self._run = run
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                results = await self._answers([item for item, _ in batch])
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the submitter went away (its socket closed)
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        finally:
            self._drainer = None
            if batch:  # cancelled while a batch ran (the server stopping): nobody waits forever
                for _, future in [*batch, *self._waiting]:
                    future.cancel()
                self._waiting.clear()

    async def _answers(self, items: list[Item]) -> list[Result | Exception]:
        try:
            results = await self._run(items)
        except Exception as exc:  # noqa: BLE001 - whatever broke the batch is each waiting sender's answer; none may hang
            return [_failed(exc) for _ in items]
        if len(results) != len(items):
            error = RuntimeError(f"a batch of {len(items)} got {len(results)} answers")
            return [_failed(error) for _ in items]
        return results


def _failed(cause: Exception) -> BatchFailedError:
    error = BatchFailedError(str(cause))
    error.__cause__ = cause
    return error
