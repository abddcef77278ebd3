"""The browsable API reference at /api/v1/docs/: reachable without login, every asset from
this server, under a Content-Security-Policy of its own."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

PROJECT_DEFAULT = {"DIRECTIVES": {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}}


@pytest.fixture
def csp_middleware(settings):
    """The project's CSP middleware and default policy (installed with the inbox's), so the
    page is checked the way it is served."""
    if "csp.middleware.CSPMiddleware" not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, "csp.middleware.CSPMiddleware"]
    if not getattr(settings, "CONTENT_SECURITY_POLICY", None):
        settings.CONTENT_SECURITY_POLICY = PROJECT_DEFAULT


def directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


def test_the_page_loads_without_login_and_only_from_this_server(api, db):
    response = api.get("/api/v1/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert not re.search(r"(https?:)?//", html), "no URL outside this server"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    static_files = [url for url in assets if url.startswith("/static/")]
    assert {url.rsplit("/", 1)[1] for url in static_files} == {
        "favicon-32x32.png",
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    }
    for url in static_files:
        assert finders.find(url.removeprefix("/static/")), f"{url} is not among this server's static files"
    assert "<script>" not in html and "<style" not in html  # nothing inline: the policy allows none
    (start,) = [url for url in assets if not url.startswith("/static/")]
    assert start == "/api/v1/docs/?script="


def test_the_start_up_script_points_at_the_local_schema_and_no_validator(api, db):
    response = api.get("/api/v1/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    script = response.content.decode()
    assert '"/api/v1/schema/"' in script
    assert '"validatorUrl": null' in script
    assert not re.search(r"https?://", script)


def test_the_page_carries_its_own_policy_allowing_only_this_server(api, db, csp_middleware):
    page = api.get("/api/v1/docs/")
    policy = directives(page["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"] and policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in page["Content-Security-Policy"]
    assert "'unsafe-eval'" not in page["Content-Security-Policy"]
    script = api.get("/api/v1/docs/?script=")
    assert directives(script["Content-Security-Policy"])["script-src"] == ["'self'"]
    # Only this page: the rest of the API keeps the project's policy.
    schema = api.get("/api/v1/schema/")
    assert "script-src" not in directives(schema["Content-Security-Policy"])


def test_the_schema_lists_the_new_app_endpoints(api, db):
    schema = api.get("/api/v1/schema/?format=json").json()
    assert "put" in schema["paths"]["/api/v1/me/device"]
    assert "get" in schema["paths"]["/api/v1/me/checkins/upcoming"]
    assert "/api/v1/docs/" not in schema["paths"]
