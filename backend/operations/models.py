"""What operations needs in the database: the workers' heartbeats."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per worker process, touched every few seconds by its ``heartbeat`` job.
    ``/readyz`` is ready while the newest is fresh; rows of workers gone for a day are
    deleted by the others."""

    worker = models.CharField(max_length=200, primary_key=True)  # host:pid
    host = models.CharField(max_length=200, db_index=True)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)
