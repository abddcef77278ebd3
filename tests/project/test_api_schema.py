"""The served OpenAPI schema documents every error an operation can answer, as a problem,
and states the rules the server enforces on input (``backend/api_schema.py``). Whether
the server answers as documented is schemathesis's part (``tests/fuzz``)."""

from __future__ import annotations

import json
import re

import pytest
from rest_framework.test import APIClient

PROBLEM_REF = "#/components/schemas/Problem"
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def served(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(served: dict):
    for path, item in served["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def body_schema(served: dict, path: str, method: str) -> dict:
    ref = served["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return served["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_operation_documents_its_errors_as_problems(served):
    checked = 0
    for name, operation in operations(served):
        responses = operation["responses"]
        errors = {code: response for code, response in responses.items() if code.startswith("4")}
        assert errors, f"{name} documents no 4xx answer"
        for code, response in errors.items():
            assert response["content"] == {"application/problem+json": {"schema": {"$ref": PROBLEM_REF}}}, (name, code)
            assert response["description"], (name, code)
        # What follows from the operation's shape, whoever wrote the view.
        expected = {"400", "406"}
        if any(scheme for scheme in operation.get("security", [{}])):
            expected.add("401")
        if "requestBody" in operation:
            expected |= {"413", "415"}
        if any(parameter["in"] == "path" for parameter in operation.get("parameters", [])):
            expected.add("404")
        assert expected <= set(responses), (name, expected - set(responses))
        assert not any(code.startswith("5") for code in responses), name
        checked += 1
    assert checked >= 69


def test_problem_schema_names_every_member_of_a_problem(served):
    problem = served["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "errors", "retry_after"}
    assert set(problem["required"]) == {"type", "title", "status", "detail"}


def test_views_list_the_problems_they_decide_themselves(served):
    paths = served["paths"]
    assert {"401", "429"} <= set(paths["/api/v1/auth/staff-device"]["post"]["responses"])
    assert "401" in paths["/api/v1/auth/refresh"]["post"]["responses"]
    assert "429" in paths["/api/v1/enroll"]["post"]["responses"]
    assert {"409", "429"} <= set(paths["/api/v1/conversations/{conversation_id}/messages"]["post"]["responses"])
    assert {"409", "429"} <= set(paths["/api/v1/checkins/{checkin_id}/respond"]["post"]["responses"])
    assert "404" in paths["/api/v1/panic"]["post"]["responses"]
    # Signed-in reads the access policy answers with "not found", never "forbidden".
    assert "403" not in paths["/api/v1/cases/{case_id}"]["get"]["responses"]
    assert "403" in paths["/api/v1/me/device"]["put"]["responses"]


def test_every_body_refuses_unknown_fields_in_the_schema_too(served):
    bodies = [name for name in served["components"]["schemas"] if name.endswith("Request")]
    assert len(bodies) > 30
    for name in bodies:
        assert served["components"]["schemas"][name].get("additionalProperties") is False, name


def test_the_ranges_and_rules_the_server_enforces_are_in_the_schema(served):
    messages = served["paths"]["/api/v1/conversations/{conversation_id}/messages"]["get"]["parameters"]
    by_name = {parameter["name"]: parameter["schema"] for parameter in messages}
    assert (by_name["limit"]["minimum"], by_name["limit"]["maximum"]) == (1, 200)
    assert by_name["after_seq"]["minimum"] == 0

    body = body_schema(served, "/api/v1/conversations/{conversation_id}/messages", "post")["properties"]["body"]
    assert (body["minLength"], body["maxLength"]) == (1, 4000)

    refresh = body_schema(served, "/api/v1/auth/refresh", "post")["properties"]
    assert refresh["timestamp"]["pattern"] == "^[0-9]{1,20}$"
    assert refresh["signature"]["pattern"] == "^[A-Za-z0-9+/]{86}==$"
    keys = served["components"]["schemas"]["DeviceInputRequest"]["properties"]
    assert keys["signing_key"]["pattern"] == keys["box_key"]["pattern"] == "^[A-Za-z0-9+/]{43}=$"

    policy = body_schema(served, "/api/v1/programmes/{programme_id}/escalation-policy", "put")
    assert policy["properties"]["steps"]["minItems"] == 1
    rotation = body_schema(served, "/api/v1/programmes/{programme_id}/oncall/rotations", "post")
    assert rotation["properties"]["members"]["minItems"] == 1

    own_device = served["paths"]["/api/v1/me/device"]["put"]["requestBody"]
    assert own_device["required"] is True
    assert body_schema(served, "/api/v1/me/device", "put")["minProperties"] == 1


def test_text_fields_refuse_nul_and_ids_stay_in_the_databases_range(served):
    texts = 0
    for name, component in served["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue
        for field, prop in component.get("properties", {}).items():
            for variant in prop.get("oneOf", [prop]):
                if variant.get("type") == "string" and "format" not in variant and "enum" not in variant:
                    if variant.get("maxLength") == 0:
                        continue  # the blank alternative of an optional field
                    pattern = variant.get("pattern")
                    assert pattern and not re.search(pattern, "a\x00b"), (name, field)
                    texts += 1
    assert texts >= 30
    for name, operation in operations(served):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"]["type"] == "integer":
                assert (parameter["schema"]["minimum"], parameter["schema"]["maximum"]) == (1, 2**63 - 1), name


def test_rules_the_schema_cannot_state_are_named_and_described(served):
    named = 0
    for name, component in served["components"]["schemas"].items():
        for field, rule in component.get("x-rules-beyond-schema", {}).items():
            assert rule in component["properties"][field]["description"], (name, field)
            named += 1
    assert named >= 20
    schedule = served["components"]["schemas"]["ScheduleInputRequest"]["x-rules-beyond-schema"]
    assert set(schedule) == {"timezone", "rrule", "at", "dtstart", "window_minutes"}


def test_local_times_are_local_in_the_schema_too(served):
    hours = served["components"]["schemas"]["WorkingHoursOutput"]["properties"]["start"]
    assert "format" not in hours
    assert re.search(hours["pattern"], "08:00:00") and not re.search(hours["pattern"], "08:00:00Z")


def test_the_session_cookie_has_the_name_this_installation_gives_it(served, settings, db):
    assert served["components"]["securitySchemes"]["staffSession"]["name"] == settings.SESSION_COOKIE_NAME
    settings.SESSION_COOKIE_NAME = "__Host-livlina-session"  # production's
    production = json.loads(APIClient().get("/api/v1/schema/?format=json").content)
    assert production["components"]["securitySchemes"]["staffSession"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "__Host-livlina-session",
        "description": "Inbox session with 2FA; unsafe methods also need the X-CSRFToken header",
    }
