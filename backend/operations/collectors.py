"""Gauges read from the database at scrape time: the state every process shares, so any
target reports the same value (take ``max`` across targets, never ``sum``). Reading it
here, rather than counting in each process, keeps it right across any number of
processes, restarts and workers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from typing_extensions import override

from backend.checkins.models import Checkin, CheckinSchedule
from backend.crisis.models import Alert
from backend.crisis.severity import Severity
from backend.operations.models import WorkerHeartbeat
from backend.push.models import PushOutbox


def _age(now: dt.datetime, since: dt.datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0


class DatabaseGauges(Collector):
    @override
    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        yield from self._alerts(now)
        yield from self._push_outbox(now)
        yield from self._checkins(now)
        yield self._heartbeat(now)

    @staticmethod
    def _alerts(now: dt.datetime) -> Iterator[GaugeMetricFamily]:
        unresolved = GaugeMetricFamily(
            "livlina_alerts_unresolved", "Alerts not yet resolved, by state and severity.", labels=["state", "severity"]
        )
        counts = {
            (row["state"], row["severity"]): row["n"]
            for row in Alert.objects.filter(state__in=[Alert.State.OPEN, Alert.State.ACKNOWLEDGED])
            .values("state", "severity")
            .annotate(n=Count("pk"))
        }
        for state in (Alert.State.OPEN, Alert.State.ACKNOWLEDGED):
            for severity in Severity:
                unresolved.add_metric([state.value, severity.value], counts.get((state.value, severity.rank), 0))
        yield unresolved
        oldest_due = Alert.objects.filter(state=Alert.State.OPEN, next_step_at__lte=now).aggregate(
            oldest=Min("next_step_at")
        )["oldest"]
        yield GaugeMetricFamily(
            "livlina_escalation_overdue_seconds",
            "How long the most overdue escalation step has waited for a worker (0: none waiting).",
            value=_age(now, oldest_due),
        )

    @staticmethod
    def _push_outbox(now: dt.datetime) -> Iterator[GaugeMetricFamily]:
        pending = PushOutbox.objects.filter(state=PushOutbox.State.PENDING).aggregate(
            depth=Count("pk"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily("livlina_push_outbox_pending", "Push rows not yet sent.", value=pending["depth"])
        yield GaugeMetricFamily(
            "livlina_push_outbox_oldest_pending_seconds",
            "Age of the oldest push row not yet sent (0: none).",
            value=_age(now, pending["oldest"]),
        )

    @staticmethod
    def _checkins(now: dt.datetime) -> Iterator[GaugeMetricFamily]:
        late_open = CheckinSchedule.objects.filter(paused=False, next_due_at__lte=now).aggregate(
            oldest=Min("next_due_at")
        )["oldest"]
        late_missed = Checkin.objects.filter(Q(status=Checkin.Status.OPEN, grace_until__lte=now)).aggregate(
            oldest=Min("grace_until")
        )["oldest"]
        overdue = GaugeMetricFamily(
            "livlina_checkin_sweep_overdue_seconds",
            "How long the oldest check-in the sweeps have not yet acted on has waited (0: none).",
            labels=["sweep"],
        )
        overdue.add_metric(["open"], _age(now, late_open))
        overdue.add_metric(["missed"], _age(now, late_missed))
        yield overdue

    @staticmethod
    def _heartbeat(now: dt.datetime) -> GaugeMetricFamily:
        newest = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
        return GaugeMetricFamily(
            "livlina_worker_heartbeat_age_seconds",
            "Seconds since the newest worker heartbeat (-1: no worker ever beat).",
            value=_age(now, newest) if newest is not None else -1.0,
        )
