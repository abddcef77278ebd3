"""The browsable API reference at ``/api/v1/docs/``: Swagger UI over the OpenAPI schema,
reachable without login, with every asset served by this server (drf-spectacular-sidecar's
copies, through the static files) and a Content-Security-Policy of its own.

The page is drf-spectacular's split Swagger view: the page loads its start-up script from
``?script`` on the same URL, so nothing runs inline and the policy can allow scripts and
styles from ``'self'`` only. The page is written here rather than from drf-spectacular's
template because that template carries an inline ``<style>``."""

from __future__ import annotations

from typing import Any

from csp.decorators import csp
from django.http import HttpResponse, HttpResponseBase
from django.templatetags.static import static
from django.utils.html import format_html
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.request import Request
from typing_extensions import override

# Replaces the project's default policy (nothing at all) for this page only.
DOCS_POLICY = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    # Swagger UI's stylesheet draws its icons as data: SVGs.
    "img-src": ["'self'", "data:"],
    # The schema, and "Try it out" against this same API.
    "connect-src": ["'self'"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
    "frame-ancestors": ["'none'"],
}

# drf-spectacular-sidecar's copy of Swagger UI, among the static files.
SWAGGER_UI = "drf_spectacular_sidecar/swagger-ui-dist"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{favicon}">
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{preset}"></script>
<script src="{start}"></script>
</body>
</html>
"""


class ApiDocsView(SpectacularSwaggerSplitView):
    title = "Livlina API"

    @extend_schema(exclude=True)
    @override
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.GET.get("script") is not None:
            # drf-spectacular's start-up script (schema URL, settings), as JavaScript.
            # drf-spectacular's views are unannotated.
            response: HttpResponseBase = super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call]
            return response
        page = format_html(
            PAGE,
            title=self.title,
            favicon=static(f"{SWAGGER_UI}/favicon-32x32.png"),
            css=static(f"{SWAGGER_UI}/swagger-ui.css"),
            bundle=static(f"{SWAGGER_UI}/swagger-ui-bundle.js"),
            preset=static(f"{SWAGGER_UI}/swagger-ui-standalone-preset.js"),
            start=f"{request.path}?script=",
        )
        return HttpResponse(page, content_type="text/html; charset=utf-8")


def api_docs_view() -> Any:
    """The view for the URL conf, carrying its own policy (django-csp's per-view ``csp``)."""
    view: Any = ApiDocsView.as_view()
    return csp(DOCS_POLICY)(view)
