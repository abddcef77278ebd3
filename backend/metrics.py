"""Prometheus instruments: the counters and histograms every process updates as it works.

One scrape target is one process (a Daphne process or a worker) with its own registry,
and Prometheus adds the targets up (``sum by (...)``). A deployment that puts several
processes behind one target sets ``PROMETHEUS_MULTIPROC_DIR``: prometheus-client then
keeps these values in files there and the metrics view adds them up itself (the live
socket gauge counts only processes still alive). Values read from the database (open
alerts, the push outbox, heartbeats) are not here: the metrics view computes them at
scrape time (``backend.operations.collectors``), the same on every target.

Labels carry kinds and outcomes only, never an id, a name or content."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Seconds, from a few milliseconds (a send, a job's pass) to minutes (a lagging worker).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

MESSAGES_STORED = Counter("livlina_messages_stored", "Messages stored (new, not idempotent retries).")
SEND_SECONDS = Histogram(
    "livlina_send_seconds",
    "Time to judge and store one call of send_messages (a REST send, or a batch of socket sends).",
    buckets=LATENCY_BUCKETS,
)
LIVE_SOCKETS = Gauge(
    "livlina_live_sockets", "WebSocket connections accepted and still open.", multiprocess_mode="livesum"
)
FRAMES_PUBLISHED = Counter("livlina_frames_published", "Live frames handed to the channel layer.")
FRAMES_FAILED = Counter("livlina_frames_failed", "Live frames the channel layer refused, timed out or skipped.")
ESCALATION_STEP_LAG_SECONDS = Histogram(
    "livlina_escalation_step_lag_seconds",
    "From an alert's step falling due to a worker running it.",
    buckets=LATENCY_BUCKETS,
)
PUSH_OUTCOMES = Counter("livlina_push_outcomes", "Push delivery attempts by kind and outcome.", ["kind", "outcome"])
CHECKIN_SWEEP_LAG_SECONDS = Histogram(
    "livlina_checkin_sweep_lag_seconds",
    "From a check-in's moment (due: opened; grace over: missed) to the sweep acting on it.",
    ["sweep"],
    buckets=LATENCY_BUCKETS,
)
WORKER_JOB_SECONDS = Histogram(
    "livlina_worker_job_seconds", "One pass of a worker job.", ["job"], buckets=LATENCY_BUCKETS
)
WORKER_JOB_FAILURES = Counter("livlina_worker_job_failures", "Worker job passes that raised.", ["job"])
