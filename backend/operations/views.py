"""``/metrics``: Prometheus text, for the monitoring system only (see ``docs/operations.md``)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from backend.operations.exposition import web_exposition
from backend.problems import problem_response


def _may_scrape(request: HttpRequest) -> bool:
    """With ``LIVLINA_METRICS_TOKEN`` set, a scrape needs it as a bearer token; without
    it, metrics are served in development only."""
    expected = settings.LIVLINA_METRICS_TOKEN
    if not expected:
        return not settings.PRODUCTION
    offered = request.headers.get("Authorization", "")
    return hmac.compare_digest(offered.encode(), f"Bearer {expected}".encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _may_scrape(request):
        # Not 401: the path is not advertised to whoever finds it.
        return problem_response(status_code=404, slug="not-found", detail="No such resource.")
    return HttpResponse(web_exposition(), content_type=CONTENT_TYPE_LATEST)
