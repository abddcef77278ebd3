"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work), on
django-health-check's view and checks, answered as JSON, or as problem+json 503 naming
each failing check.

Readiness includes the workers' heartbeat on purpose: without a worker no check-in opens,
no alert escalates and no push goes out, so a defector's panic would be accepted and
then do nothing. An app that sees the service unavailable tells its user to use the
programme's phone fallback; one that sees it "up" does not."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from typing_extensions import override

from backend.operations import heartbeat
from backend.problems import PROBLEM_CONTENT_TYPE, problem_body

logger = logging.getLogger(__name__)
CHANNEL_LAYER_TIMEOUT_SECONDS = 2.0


@dataclasses.dataclass
class MigrationsApplied(HealthCheck):  # type: ignore[misc]  # django-health-check ships no types
    """Every migration the code knows is applied: a process never serves a schema older
    than its code (the migration Job or unit runs before the new version takes traffic)."""

    @override
    async def run(self) -> None:
        await sync_to_async(self._check)()

    @staticmethod
    def _check() -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        try:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as exc:
            raise ServiceUnavailable("cannot read the applied migrations") from exc
        if plan:
            raise ServiceUnavailable(f"{len(plan)} migrations not applied")


@dataclasses.dataclass
class ChannelLayerReachable(HealthCheck):  # type: ignore[misc]
    """The channel layer takes a frame: live delivery between processes works."""

    @override
    async def run(self) -> None:
        layer = get_channel_layer()
        if layer is None:
            raise ServiceUnavailable("no channel layer configured")
        try:
            await asyncio.wait_for(
                layer.group_send("livlina.readiness", {"type": "readiness.probe"}), CHANNEL_LAYER_TIMEOUT_SECONDS
            )
        except TimeoutError as exc:
            raise ServiceUnavailable("the channel layer did not answer in time") from exc
        except (OSError, ConnectionError) as exc:
            raise ServiceUnavailable("the channel layer is unreachable") from exc
        except Exception as exc:
            # redis-py's errors derive from neither OSError nor ConnectionError.
            if type(exc).__module__.startswith("redis"):
                raise ServiceUnavailable("the channel layer is unreachable") from exc
            raise


@dataclasses.dataclass
class WorkerHeartbeatFresh(HealthCheck):  # type: ignore[misc]
    """Some worker beat within ``LIVLINA_WORKER_HEARTBEAT_STALE_SECONDS``."""

    @override
    async def run(self) -> None:
        await sync_to_async(self._check)()

    @staticmethod
    def _check() -> None:
        newest = heartbeat.newest_beat()
        if newest is None:
            raise ServiceUnavailable("no worker has ever beaten")
        age = timezone.now() - newest
        if age > heartbeat.stale_after():
            raise ServiceUnavailable(f"the newest worker heartbeat is {_seconds(age)} s old")


def _seconds(age: dt.timedelta) -> int:
    return int(age.total_seconds())


CHECK_NAMES = {
    Database: "database",
    MigrationsApplied: "migrations",
    Cache: "cache",
    ChannelLayerReachable: "channel_layer",
    WorkerHeartbeatFresh: "worker_heartbeat",
}


class ProbeView(HealthCheckView):  # type: ignore[misc]
    """django-health-check's view, answering JSON in the API's error format whatever the
    Accept header: ``{"status": "ok", "checks": {...}}``, or a problem+json 503 with
    ``errors`` naming each failing check (``field`` is the check's name)."""

    checks: tuple[type[HealthCheck], ...] = ()

    @override
    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        with self.get_executor() as executor:
            self.results = await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
        outcome = {CHECK_NAMES[type(result.check)]: result.error for result in self.results}
        failing = {name: error for name, error in outcome.items() if error is not None}
        checks = {name: "ok" if error is None else str(error) for name, error in outcome.items()}
        if not failing:
            return JsonResponse({"status": "ok", "checks": checks})
        body: dict[str, Any] = dict(
            problem_body(
                status_code=503,
                slug="not-ready",
                detail="Not ready: " + ", ".join(failing) + ".",
                errors=[{"field": name, "message": str(error)} for name, error in failing.items()],
            )
        )
        logger.warning("not ready: %s", "; ".join(f"{name} ({error})" for name, error in failing.items()))
        body["title"] = "Service unavailable"
        body["checks"] = checks
        response = JsonResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE)
        response["Retry-After"] = "5"
        return response


class LivenessView(ProbeView):
    """The process runs and answers: no dependency is checked, so a database outage never
    makes an orchestrator restart every process at once."""

    checks = ()


class ReadinessView(ProbeView):
    checks = (Database, MigrationsApplied, Cache, ChannelLayerReachable, WorkerHeartbeatFresh)
