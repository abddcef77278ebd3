"""Request bodies are validated strictly: a misspelt or unexpected field is an error the
client hears about, not something silently ignored."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
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

    def create(self, validated_data: Any) -> Any:  # pragma: no cover - input only
        raise NotImplementedError

    def update(self, instance: Any, validated_data: Any) -> Any:  # pragma: no cover - input only
        raise NotImplementedError


class TextField(serializers.CharField):
    """A string and only a string: DRF's CharField would quietly turn 12 or true into text."""

    default_error_messages = {"not_text": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)
