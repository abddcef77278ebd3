"""What a scrape returns: this process's instruments (or, with ``PROMETHEUS_MULTIPROC_DIR``,
those of every process writing to that directory), and on the web targets the gauges read
from the database."""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess, start_http_server

from backend.operations.collectors import DatabaseGauges


def process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def _database_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseGauges())
    return registry


def web_exposition() -> bytes:
    return generate_latest(process_registry()) + generate_latest(_database_registry())


def serve_worker_metrics(*, address: str, port: int) -> None:
    """A worker has no HTTP server of its own: prometheus-client's, in a thread."""
    start_http_server(port, addr=address, registry=process_registry())


def forget_this_process() -> None:
    """A stopped process's live gauges (open sockets) no longer count."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
