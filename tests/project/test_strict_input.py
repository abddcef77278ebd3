"""Every request body's fields take their own JSON type only: text fields refuse numbers
and booleans, integer fields refuse "3", 3.0 and true (docs/api.md, conventions)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

import backend.urls  # noqa: F401 - imports every view, so every body serializer exists
from backend.input_validation import StrictSerializer


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def _is_text(field: serializers.Field) -> bool:
    if isinstance(field, serializers.ChoiceField):
        return all(isinstance(choice, str) for choice in field.choices)
    return isinstance(field, serializers.CharField | serializers.UUIDField)


WRONG_FOR_TEXT = [0, 12, 1.5, True, False]
WRONG_FOR_INTEGER = ["3", 3.0, True, "3.0"]


def _cases() -> list[tuple[str, str, Any, str]]:
    """(serializer, field, a wrong value for it, where in the field the error is)."""
    cases = []
    for serializer in _all_subclasses(StrictSerializer):
        for name, field in serializer().fields.items():
            if field.read_only:
                continue
            label = f"{serializer.__module__}.{serializer.__name__}.{name}"
            if isinstance(field, serializers.ListField):
                child = field.child
                if _is_text(child):
                    cases += [(label, name, [bad], "[0]") for bad in WRONG_FOR_TEXT[:2]]
                elif isinstance(child, serializers.IntegerField):
                    cases += [(label, name, [bad], "[0]") for bad in WRONG_FOR_INTEGER]
            elif _is_text(field):
                cases += [(label, name, bad, "") for bad in WRONG_FOR_TEXT]
            elif isinstance(field, serializers.IntegerField):
                cases += [(label, name, bad, "") for bad in WRONG_FOR_INTEGER]
    return cases


CASES = _cases()


def test_the_walk_finds_the_bodies_with_text_and_integer_fields():
    labels = {label for label, *_ in CASES}
    assert len(labels) > 30
    assert any(label.endswith(".note") for label in labels)
    assert any(label.endswith(".reason") for label in labels)


SERIALIZERS = {f"{s.__module__}.{s.__name__}": s for s in _all_subclasses(StrictSerializer)}


@pytest.mark.parametrize(("label", "name", "value", "where"), CASES, ids=[f"{c[0]}={c[2]!r}" for c in CASES])
def test_a_wrong_json_type_is_refused_and_named(label, name, value, where):
    serializer = SERIALIZERS[label.rpartition(".")[0]](data={name: value})
    assert not serializer.is_valid()
    error = serializer.errors[name]
    if where == "[0]":
        error = error[0]
    assert str(error[0]).startswith(("Must be a string.", "Must be an integer")), serializer.errors
