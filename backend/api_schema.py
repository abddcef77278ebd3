"""The OpenAPI schema at ``/api/v1/schema/``: drf-spectacular's generator with what this
API's endpoints share written in once, so the schema says what the server does.

- **Problem answers that follow from an endpoint's shape**, as ``application/problem+json``
  with the ``Problem`` schema: 400 and 406 on every operation (a Host this server does not
  answer for, a charset that is no text encoding, an ``Accept`` without JSON); 401 where
  credentials are required; 403 where the permission asks more than being signed in, or
  an unsafe method accepts the staff session (CSRF); 400, 413 and 415 where there is a
  request body; 404 where the path names an object; 429 where the view is throttled.
  What an endpoint decides itself (a role it refuses, a state conflict, a rate limit of
  its own) it lists with ``problems.problem_responses``; an operation without any
  problem answer fails ``tests/project/test_api_schema.py``.
- **Ids in the path** are integers from 1 to the largest bigint.
- **Bodies read by a** ``StrictSerializer`` **refuse unknown fields**: their schemas say
  ``additionalProperties: false``; a list that must not be empty says ``minItems: 1``; a
  text field's pattern refuses NUL, and all-space text where blanks are refused (DRF
  trims first); rules across fields are added from the serializer's ``schema_rules``.
- **What the schema cannot state** (a rule on stored rows, the clock or a grammar) a body
  serializer names in ``rules_beyond_schema``: the schema lists those fields under
  ``x-rules-beyond-schema`` and says the rule in each one's description. A request valid
  by the schema may get a 400 naming one of them, and no other field.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework.authentication import SessionAuthentication
from rest_framework.fields import CharField, Field
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.serializers import Serializer
from typing_extensions import override

from backend.input_validation import MAX_DATABASE_INTEGER, NOT_BLANK_TEXT_PATTERN, TEXT_PATTERN, StrictSerializer
from backend.problems import PROBLEM_CONTENT_TYPE, problem_schema_response

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ProblemAutoSchema(AutoSchema):
    @override
    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                # An id: the database holds no other.
                parameter["schema"].update(minimum=1, maximum=MAX_DATABASE_INTEGER)
        responses: dict[str, Any] = operation["responses"]
        for code in self.problems_of_shape(operation):
            # The view's own entry for a status, where it has one, describes it better.
            if str(code) not in responses:
                # drf-spectacular's AutoSchema is unannotated (here and below).
                responses[str(code)] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    problem_schema_response(code), str(code), [PROBLEM_CONTENT_TYPE]
                )
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def problems_of_shape(self, operation: dict[str, Any]) -> set[int]:
        """The problem statuses every endpoint of this operation's shape can answer."""
        codes = {400, 406}
        permissions = self.view.get_permissions()
        if not all(isinstance(permission, AllowAny) for permission in permissions):
            codes.add(401)
            asks_more = not all(isinstance(permission, (AllowAny, IsAuthenticated)) for permission in permissions)
            checks_csrf = self.method in UNSAFE_METHODS and any(
                isinstance(authenticator, SessionAuthentication) for authenticator in self.view.get_authenticators()
            )
            if asks_more or checks_csrf:
                codes.add(403)
        if "requestBody" in operation:
            codes |= {400, 413, 415}
        if any(parameter["in"] == "path" for parameter in operation.get("parameters", [])):
            codes.add(404)
        if self.view.get_throttles():
            codes.add(429)
        return codes

    @override
    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> tuple[Any, bool]:
        # drf-spectacular is unannotated.
        schema, required = super()._get_request_for_media_type(serializer, direction)  # type: ignore[no-untyped-call]
        # A request without a body reads as {}: a body that must name at least one field
        # (though none is required on its own) is itself required. (force_instance is
        # unannotated too.)
        serializer = force_instance(serializer)  # type: ignore[no-untyped-call]
        if isinstance(serializer, StrictSerializer) and serializer.schema_rules.get("minProperties", 0) > 0:
            required = True
        return schema, required

    @override
    def _map_serializer_field(
        self, field: Field[Any, Any, Any, Any], direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        # drf-spectacular is unannotated.
        schema: dict[str, Any] = super()._map_serializer_field(  # type: ignore[no-untyped-call]
            field, direction, bypass_extensions
        )
        # drf-spectacular leaves out DRF's allow_empty=False (a list that must not be empty).
        if schema.get("type") == "array" and getattr(field, "allow_empty", True) is False:
            schema.setdefault("minItems", 1)
        return schema

    @override
    def _map_basic_serializer(self, serializer: Serializer[Any], direction: str) -> dict[str, Any]:
        # drf-spectacular is unannotated.
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)  # type: ignore[no-untyped-call]
        if isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
            schema.update(serializer.schema_rules)
            for name, field in serializer.fields.items():
                if isinstance(field, CharField) and name in schema.get("properties", {}):
                    self._state_what_text_refuses(field, schema["properties"][name])
            if serializer.rules_beyond_schema:
                schema["x-rules-beyond-schema"] = dict(serializer.rules_beyond_schema)
            for name, rule in serializer.rules_beyond_schema.items():
                field_schema = schema["properties"][name]
                described = field_schema.get("description")
                checked = f"The server also checks: {rule}."
                field_schema["description"] = f"{described}. {checked}" if described else checked
        return schema

    @staticmethod
    def _state_what_text_refuses(field: CharField, schema: dict[str, Any]) -> None:
        """Every text field refuses NUL, and all-space text where it refuses blanks (DRF
        trims first); a field with a pattern or format of its own states its own rule."""
        if schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema):
            refuses_blank = field.trim_whitespace and not field.allow_blank
            schema["pattern"] = NOT_BLANK_TEXT_PATTERN if refuses_blank else TEXT_PATTERN
