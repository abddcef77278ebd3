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
from backend.cases.models import Case
from backend.crisis.engine import run_escalations
from backend.crisis.models import AlertRecipient
from backend.crisis.services import raise_alert
from client.device import DeviceKeys


def seed() -> dict:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_prints_working_logins_and_a_code(db):
    data = seed()
    assert set(data) >= {"programme", "staff", "case", "other_programme"}
    assert set(data["staff"]) == {"contact_person", "on_call", "supervisor", "admin"}
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
    assert first["other_programme"] == second["other_programme"]
    assert Programme.objects.count() == 2
    assert User.objects.filter(kind=User.Kind.STAFF).count() == 6


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


def log_in(person: dict) -> APIClient:
    client = APIClient()
    secret = base64.b32decode(person["totp_secret"])
    form = {"username": person["username"], "password": person["password"], "otp": f"{totp(secret):06d}"}
    assert client.post("/inbox/login/", form).status_code == 302
    return client


def test_seed_demo_adds_an_admin_a_second_programme_and_someone_on_call_now(db):
    data = seed()
    other = data["other_programme"]
    assert set(other) == {"id", "name", "supervisor", "contact_person"}
    admin = log_in(data["staff"]["admin"])
    assert admin.get(f"/api/v1/programmes/{data['programme']['id']}/staff").status_code == 200
    receiving = log_in(other["supervisor"])
    assert receiving.get(f"/api/v1/programmes/{other['id']}/audit").status_code == 200
    log_in(other["contact_person"])
    alert = raise_alert(case=Case.objects.get(pk=data["case"]["id"]), kind="panic", severity="critical")
    run_escalations()
    notified = set(AlertRecipient.objects.filter(alert=alert).values_list("user_id", flat=True))
    assert data["staff"]["on_call"]["user_id"] in notified


def test_seed_demo_says_what_to_do(db):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    assert "/inbox/" in text and "python -m client.demo" in text and "reply" in text
    assert "Demo receiving programme" in text
