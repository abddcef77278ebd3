"""Where published frames go: from plain threads (the worker) through one long-lived
event loop, so a layer's connections are reused instead of opened per frame; from code
serving a connection, on the server's own loop; inside a collector, to its opener."""

from __future__ import annotations

import asyncio
import threading
from unittest import mock

from asgiref.sync import sync_to_async

from backend import realtime


class RecordingLayer:
    """Stands in for a Redis layer: remembers each frame and the loop that sent it."""

    def __init__(self, fail_group: str = "") -> None:
        self.sent: list[tuple[str, dict]] = []
        self.loops: set[int] = set()
        self.fail_group = fail_group

    async def group_send(self, group: str, event: dict) -> None:
        self.loops.add(id(asyncio.get_running_loop()))
        if group == self.fail_group:
            raise ConnectionError("redis went away")
        self.sent.append((group, event))


def test_frames_from_plain_threads_share_one_event_loop_and_keep_their_order():
    layer = RecordingLayer()
    with mock.patch("backend.realtime.get_channel_layer", return_value=layer):
        realtime.publish_now("user.1", {"type": "a"})
        realtime.publish_many_now([("user.2", {"type": "b"}), ("user.3", {"type": "c"})])
        worker = threading.Thread(target=realtime.publish_now, args=("user.4", {"type": "d"}))
        worker.start()
        worker.join()
    assert [group for group, _ in layer.sent] == ["user.1", "user.2", "user.3", "user.4"]
    assert len(layer.loops) == 1


def test_one_failing_frame_does_not_stop_the_others_and_is_reported():
    layer = RecordingLayer(fail_group="user.2")
    realtime.layer_health.failing = False
    with mock.patch("backend.realtime.get_channel_layer", return_value=layer):
        realtime.publish_many_now([("user.1", {"type": "a"}), ("user.2", {"type": "b"}), ("user.3", {"type": "c"})])
    assert [group for group, _ in layer.sent] == ["user.1", "user.3"]
    assert realtime.layer_health.failing is True
    realtime.layer_health.failing = False


def test_frames_published_on_commit_wait_for_the_commit(db, django_capture_on_commit_callbacks):
    layer = RecordingLayer()
    with mock.patch("backend.realtime.get_channel_layer", return_value=layer):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            realtime.publish_many_on_commit([("user.1", {"type": "a"})])
            realtime.publish_many_on_commit([])
        assert layer.sent == []
        for callback in callbacks:
            callback()
    assert layer.sent == [("user.1", {"type": "a"})]


def test_a_hung_channel_layer_costs_one_timeout_then_publishing_pauses(monkeypatch):
    calls: list[str] = []

    class HungLayer:
        async def group_send(self, group, event):
            calls.append(group)
            await asyncio.Event().wait()  # never answers

    monkeypatch.setattr(realtime, "get_channel_layer", HungLayer)
    monkeypatch.setattr(realtime, "PUBLISH_TIMEOUT_SECONDS", 0.05)
    clock = [1000.0]
    monkeypatch.setattr(realtime, "hang_guard", realtime._HangGuard(clock=lambda: clock[0]))
    monkeypatch.setattr(realtime, "layer_health", realtime.OutageLog("test layer"))

    for _ in range(5):  # the worker, from a plain thread
        realtime.publish_many_now([("user.1", {"type": "alert.new"})])
    asyncio.run(realtime.publish_all([("user.2", {"type": "message.new"})]))  # Daphne's loop
    assert calls == ["user.1"]  # one timeout; the rest skipped while paused
    assert realtime.layer_health.failing

    clock[0] += realtime.PAUSE_AFTER_HANG_SECONDS + 1  # the pause ends: the next publish tries the layer again
    realtime.publish_many_now([("user.3", {"type": "alert.new"})])
    assert calls == ["user.1", "user.3"]


def test_a_broken_channel_layer_config_never_escapes_a_commit(settings, case):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"prefix": "x"}}
    }
    from backend.realtime import layer_health, publish_now

    layer_health.failing = False
    publish_now("user.1", {"type": "ping"})  # must not raise
    assert layer_health.failing is True
    layer_health.failing = False


async def test_a_collector_keeps_what_the_awaited_sync_work_publishes_for_its_opener_to_send():
    layer = RecordingLayer()
    with mock.patch("backend.realtime.get_channel_layer", return_value=layer):
        with realtime.collect_published() as frames:
            # As a batch's ORM work: run in a thread, publishing when its commit happens.
            await sync_to_async(realtime.publish_many_now, thread_sensitive=False)([("user.1", {"type": "a"})])
            await sync_to_async(realtime.publish_now)("user.2", {"type": "b"})
        assert layer.sent == []
        assert frames == [("user.1", {"type": "a"}), ("user.2", {"type": "b"})]
        realtime.publish_now("user.3", {"type": "c"})  # the collector is closed: sent at once
        await realtime.publish_all(frames)
    assert layer.sent == [("user.3", {"type": "c"}), ("user.1", {"type": "a"}), ("user.2", {"type": "b"})]


async def test_code_serving_a_connection_publishes_on_the_servers_loop_and_other_code_does_not():
    layer = RecordingLayer()

    async def view(scope, receive, send):  # an ASGI app whose sync part publishes, as a Django view
        await sync_to_async(realtime.publish_now)(scope["group"], {"type": "a"})

    with mock.patch("backend.realtime.get_channel_layer", return_value=layer):
        await realtime.serving_connections(view)({"type": "http", "group": "user.1"}, None, None)
        assert layer.loops == {id(asyncio.get_running_loop())}
        await view({"type": "http", "group": "user.2"}, None, None)  # not marked: the long-lived loop
    assert [group for group, _ in layer.sent] == ["user.1", "user.2"]
    assert len(layer.loops) == 2
