"""Input is validated one way: a serializer per request body (``StrictSerializer``: a
misspelt or unexpected field is an error the client hears about, not something silently
ignored) or query string (``QuerySerializer``), checked by ``validated_input``. The API
base views (``backend.accounts.api_views``) call it as ``parse_body`` / ``parse_query``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any, NoReturn

from django.conf import settings
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from typing_extensions import override

from backend.problems import Problem


# The type argument is the instance a serializer reads or writes: an input serializer has none.
class InputSerializer(serializers.Serializer[None]):
    """A serializer that only reads input; output shapes are the apps' output serializers."""

    def create(self, validated_data: Any) -> NoReturn:  # pragma: no cover - input only
        raise NotImplementedError

    def update(self, instance: None, validated_data: Any) -> NoReturn:  # pragma: no cover - input only
        raise NotImplementedError


class QuerySerializer(InputSerializer):
    """Query-string parameters. Unknown ones are ignored: browsers, proxies and caches add
    their own."""


# The serializer for a request body. (Its docstring is in every input's schema entry.)
class StrictSerializer(InputSerializer):
    """Rejects unknown fields (named in the error) and bodies that are not JSON objects."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        errors: dict[str, Any] = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors.update(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})
        if errors:
            raise serializers.ValidationError(errors)
        return value


def validated_input(serializer_class: type[InputSerializer], data: Any) -> dict[str, Any]:
    """``data`` as ``serializer_class`` validates it; otherwise a ValidationError, which the
    API answers with a 400 problem naming every field that is wrong."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    validated: dict[str, Any] = serializer.validated_data
    return validated


class TextField(serializers.CharField):
    """A string and only a string: DRF's CharField would quietly turn 12 or true into text."""

    default_error_messages = {"not_text": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false only: DRF's BooleanField would also take "yes", "1" or 0."""

    default_error_messages = {"not_boolean": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("not_boolean")
        return data


class BoundedJSONParser(JSONParser):
    """JSON bodies up to ``DATA_UPLOAD_MAX_MEMORY_SIZE``; larger ones are a 413 before parsing.
    (DRF's parser reads the stream itself, so Django's own limit never applies.)"""

    @override
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            length = 0
        if length > limit:
            raise Problem(
                status_code=413, slug="payload-too-large", detail=f"Request bodies are at most {limit} bytes."
            )
        return super().parse(stream, media_type, parser_context)
