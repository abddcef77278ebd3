from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.defaults import bad_request, page_not_found, server_error
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from backend.api_docs import api_docs_view
from backend.operations.health import LivenessView, ReadinessView
from backend.operations.views import metrics
from backend.problems import problem_response

urlpatterns = [
    # Staff who type the bare address land in the inbox.
    path("", RedirectView.as_view(pattern_name="inbox-home", permanent=False)),
    path("healthz", LivenessView.as_view(), name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", api_docs_view(), name="api-docs"),
    path("api/v1/", include("backend.accounts.urls")),
    path("api/v1/", include("backend.cases.urls")),
    path("api/v1/", include("backend.messaging.urls")),
    path("api/v1/", include("backend.crisis.urls")),
    path("api/v1/", include("backend.crisis.phrase_urls")),
    path("api/v1/", include("backend.checkins.urls")),
    path("api/v1/", include("backend.administration.urls")),
    path("inbox/", include("backend.inbox.urls")),
]


def _wants_problem(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A bad Host seen first by SecurityMiddleware's HTTPS redirect comes here (production).
    if _wants_problem(request):
        return problem_response(status_code=400, slug="malformed-request", detail="The request is malformed.")
    return bad_request(request, exception or Exception())


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_problem(request):
        return problem_response(status_code=404, slug="not-found", detail="No such resource.")
    return page_not_found(request, exception or Exception())


def handler500(request: HttpRequest) -> HttpResponse:
    if _wants_problem(request):
        return problem_response(status_code=500, slug="internal", detail="The server failed; nothing was changed.")
    return server_error(request)
