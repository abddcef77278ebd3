"""Group commit for the socket send path: the sends that arrive while one batch is being
stored go into the next, so a busy server commits many senders' messages in one
transaction (and a quiet one still stores each send at once, in a batch of one)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


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
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    results = await self._run([item for item, _ in batch])
                except Exception as exc:  # the run failed as a whole: every submitter hears of it
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the submitter went away (its socket closed)
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._drainer = None
