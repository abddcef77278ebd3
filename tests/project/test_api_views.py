"""Every API view says who may call it by its base, and the bases keep their promises."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIRequestFactory

from backend.accounts.api_views import DefectorAPIView, PublicAPIView, SignedInAPIView, StaffAPIView
from tests.conftest import device_client

BASES = (PublicAPIView, SignedInAPIView, StaffAPIView, DefectorAPIView)
# Served by drf-spectacular and public by its settings (the schema, and the reference page
# over it, backend/api_docs.py); they answer no case data.
LIBRARY_VIEWS = {"schema", "api-docs"}


def api_routes() -> list[tuple[str, type]]:
    routes = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and (prefix + str(pattern.pattern)).startswith("api/"):
                view_class = getattr(pattern.callback, "view_class", None)
                routes.append((pattern.name, view_class))

    walk(get_resolver().url_patterns, "")
    return routes


def test_every_api_view_builds_on_one_of_the_bases():
    routes = api_routes()
    assert len(routes) > 30
    unbased = [name for name, view in routes if name not in LIBRARY_VIEWS and not issubclass(view, BASES)]
    assert unbased == []


@pytest.mark.parametrize(
    ("path", "staff", "defector", "anonymous"),
    [
        ("/api/v1/alerts", 200, 403, 401),  # StaffAPIView
        ("/api/v1/checkins/open", 403, 200, 401),  # DefectorAPIView
        ("/api/v1/conversations", 200, 200, 401),  # SignedInAPIView
    ],
)
def test_each_base_admits_its_callers_only(defector_device, contact, as_staff, api, path, staff, defector, anonymous):
    assert as_staff(contact).get(path).status_code == staff
    assert device_client(defector_device).get(path).status_code == defector
    assert api.get(path).status_code == anonymous


def test_a_public_view_ignores_credentials_altogether(defector_device):
    # A revoked or expired token must not stop a device from refreshing: public views
    # read no Authorization header at all.
    client = device_client(defector_device)
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = client.post("/api/v1/auth/refresh", {}, format="json")
    assert response.status_code == 400
    assert response.json()["type"] == "urn:livlina:problem:validation"


def test_a_view_given_the_wrong_base_refuses_rather_than_runs_anonymously():
    class Misconfigured(StaffAPIView):
        permission_classes = []

        def get(self, request):
            return self.staff_user

    request = APIRequestFactory().get("/api/v1/nowhere")
    response = Misconfigured.as_view()(request)
    assert response.status_code == 401
