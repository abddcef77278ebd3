"""The administration endpoints in the OpenAPI schema: their problem answers are
described, and the schema builds without a warning."""

from __future__ import annotations

import yaml
from django.core.management import call_command


def test_the_schema_builds_without_warnings_and_names_problem_answers(db, tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    close = paths["/api/v1/cases/{case_id}/close"]["post"]["responses"]
    assert set(close) >= {"200", "400", "403", "404", "409"}
    problem = close["403"]["content"]["application/problem+json"]["schema"]["$ref"]
    assert problem.endswith("/Problem")
    invite = paths["/api/v1/programmes/{programme_id}/staff"]["post"]["responses"]
    assert set(invite) >= {"201", "400", "403", "404", "409"}
    assert set(paths["/api/v1/programmes/{programme_id}/oncall/rotations/{rotation_id}"]) >= {"put", "delete"}
