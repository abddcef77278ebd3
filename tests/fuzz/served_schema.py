"""The served OpenAPI schema as schemathesis loads it for the fuzzing tests, with the
checks' configuration, and the roles each request is sent as."""

from __future__ import annotations

import re

import schemathesis
from django.core.wsgi import get_wsgi_application
from schemathesis import Case, Response
from schemathesis.config import SchemathesisConfig

ROLES = ["anonymous", "defector", "contact_person", "supervisor"]

# Every phase but the stateful one, whose checks need links between operations that this
# schema does not declare. Every check is on (schemathesis's default).
CONFIG = """
[phases.examples]
enabled = true
[phases.coverage]
enabled = true
[phases.fuzzing]
enabled = true
[phases.stateful]
enabled = false
"""

schema = schemathesis.openapi.from_wsgi(
    "/api/v1/schema/?format=json", get_wsgi_application(), config=SchemathesisConfig.from_str(CONFIG)
)


def rules_beyond_the_schema_only(response: Response, case: Case) -> bool:
    """Whether the answer is a 400 whose errors all name fields the request body's schema
    lists under ``x-rules-beyond-schema``."""
    operation = schema.raw_schema["paths"][case.operation.path][case.method.lower()]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    component = schema.raw_schema["components"]["schemas"].get(body.get("$ref", "").rsplit("/", 1)[-1], {})
    beyond = set(component.get("x-rules-beyond-schema", {}))
    if response.status_code != 400 or not beyond:
        return False
    named = {re.split(r"[.\[]", error["field"])[0] for error in response.json().get("errors", [])}
    return bool(named) and named <= beyond
