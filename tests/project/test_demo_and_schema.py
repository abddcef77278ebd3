"""seed_demo as docs/contract.md describes it, and an OpenAPI schema that describes every endpoint."""

from __future__ import annotations

import base64
import io
import json

import yaml
from django.core.management import call_command
from django.urls import get_resolver
from django_otp.oath import totp
from rest_framework.test import APIClient

from backend.accounts.models import Programme, User
from client.device import DeviceKeys


def seed() -> dict:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_prints_working_logins_and_a_code(db):
    data = seed()
    assert set(data) >= {"programme", "staff", "case"}
    assert set(data["staff"]) == {"contact_person", "on_call", "supervisor"}
    person = data["staff"]["contact_person"]
    secret = base64.b32decode(person["totp_secret"])
    client = APIClient()
    response = client.post(
        "/inbox/login/", {"username": person["username"], "password": person["password"], "otp": f"{totp(secret):06d}"}
    )
    assert response.status_code == 302
    assert [c["id"] for c in client.get("/api/v1/cases").json()] == [data["case"]["id"]]
    enrolled = APIClient().post(
        "/api/v1/enroll", {"code": data["case"]["enrollment_code"], "device": DeviceKeys().public()}, format="json"
    )
    assert enrolled.status_code == 201
    assert enrolled.json()["case_id"] == data["case"]["id"]


def test_seed_demo_again_reuses_everything_but_the_code(db):
    first, second = seed(), seed()
    assert first["programme"] == second["programme"]
    assert first["case"]["id"] == second["case"]["id"]
    assert first["staff"] == second["staff"]
    assert first["case"]["enrollment_code"] != second["case"]["enrollment_code"]
    assert Programme.objects.count() == 1
    assert User.objects.filter(kind=User.Kind.STAFF).count() == 3


def test_schema_describes_every_api_endpoint(db):
    response = APIClient().get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    documented = set(schema["paths"])
    routed = set()
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) == "api/v1/":
            for inner in pattern.url_patterns:
                route = "/api/v1/" + str(inner.pattern).replace("<int:", "{").replace("<uuid:", "{").replace(">", "}")
                routed.add(route)
    assert routed, "no API routes found"
    assert routed <= documented, routed - documented
