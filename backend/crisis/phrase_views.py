"""Supervisors' management of a programme's crisis phrases (thin views over
``crisis.phrase_services``)."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.api_views import StaffAPIView
from backend.crisis import phrase_services
from backend.crisis.language import CATEGORIES, LANGUAGES, default_rules
from backend.crisis.models import PHRASE_MAX_LENGTH, Phrase, PhraseListChange
from backend.crisis.severity import Severity
from backend.input_validation import StrictBooleanField, StrictSerializer, TextField
from backend.problems import problem_responses

BARE_EXCLUSION = {"required": ["exclusion"], "properties": {"exclusion": {"enum": [True]}}}
SEVERITY_OR_CATEGORY = [{"required": ["severity"]}, {"required": ["category"]}]


class PhraseInput(StrictSerializer):
    phrase = TextField(
        max_length=PHRASE_MAX_LENGTH,
        help_text='Words to match, whole words only; a trailing "*" lets the last word continue.',
    )
    language = serializers.ChoiceField(choices=LANGUAGES)
    severity = serializers.ChoiceField(
        choices=[s.value for s in Severity], required=False, help_text="required unless exclusion"
    )
    category = serializers.ChoiceField(choices=CATEGORIES, required=False, help_text="required unless exclusion")
    exclusion = StrictBooleanField(
        required=False, default=False, help_text="a phrase inside which matches of other phrases are ignored"
    )
    concept = serializers.ChoiceField(
        choices=sorted(default_rules().concepts),
        required=False,
        help_text='a word for one of the rules\' word groups ("medicine"): alerts nothing alone',
    )

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "phrase": 'a "*" only at its end, and long enough once normalised to match safely'
    }
    # validate() below and phrase_services: a phrase has a severity and a category; an
    # exclusion or a concept word has neither, and a concept word is not an exclusion.
    schema_rules: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"required": ["severity", "category"], "not": {"anyOf": [BARE_EXCLUSION, {"required": ["concept"]}]}},
            {"allOf": [BARE_EXCLUSION, {"not": {"anyOf": [*SEVERITY_OR_CATEGORY, {"required": ["concept"]}]}}]},
            {"required": ["concept"], "not": {"anyOf": [*SEVERITY_OR_CATEGORY, BARE_EXCLUSION]}},
        ]
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        bare = attrs.get("exclusion") or "concept" in attrs
        for name in ("severity", "category"):
            if bare and name in attrs:
                errors[name] = ["An exclusion or a concept word has no severity or category."]
            elif not bare and name not in attrs:
                errors[name] = ["This field is required."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class PhraseOutput(serializers.Serializer[Phrase]):
    id = serializers.IntegerField()
    phrase = serializers.CharField()
    normalised = serializers.CharField(help_text="the form the scanner matches")
    language = serializers.CharField(source="phrase_list.language")
    severity = serializers.CharField(help_text="empty for an exclusion")
    category = serializers.CharField(help_text="empty for an exclusion")
    exclusion = serializers.BooleanField(source="is_exclusion")
    concept = serializers.CharField(help_text="the rules' word group this word joins; empty for a phrase")
    created_at = serializers.DateTimeField()


# A phrase just added; the programme's new version comes in the context as ``version``.
class CreatedPhraseOutput(PhraseOutput):
    version = serializers.SerializerMethodField(help_text="the programme's phrase version after this change")

    @extend_schema_field(OpenApiTypes.INT)
    def get_version(self, phrase: Phrase) -> int:
        version: int = self.context["version"]
        return version


class PhraseListOutput(serializers.Serializer[phrase_services.ProgrammePhrases]):
    programme_id = serializers.IntegerField()
    version = serializers.IntegerField()
    phrases = PhraseOutput(many=True)


class PhraseChangeOutput(serializers.Serializer[PhraseListChange]):
    id = serializers.IntegerField()
    version = serializers.IntegerField(source="programme_version")
    list_version = serializers.IntegerField(source="version")
    language = serializers.CharField(source="phrase_list.language")
    at = serializers.DateTimeField()
    actor_id = serializers.IntegerField(allow_null=True)
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    summary = serializers.JSONField()


class PhraseHistoryOutput(serializers.Serializer[phrase_services.PhraseHistory]):
    programme_id = serializers.IntegerField()
    version = serializers.IntegerField()
    changes = PhraseChangeOutput(many=True)


class PhraseListView(StaffAPIView):
    @extend_schema(responses={200: PhraseListOutput}, summary="A programme's custom crisis phrases")
    def get(self, request: Request, programme_id: int) -> Response:
        found = phrase_services.list_phrases(user=self.staff_user, programme_id=programme_id)
        return Response(PhraseListOutput(found).data)

    @extend_schema(
        request=PhraseInput,
        responses={201: CreatedPhraseOutput, **problem_responses(409)},
        summary="Add a crisis phrase (supervisors)",
    )
    def post(self, request: Request, programme_id: int) -> Response:
        values = self.parse_body(PhraseInput)
        row, version = phrase_services.add_phrase(
            actor=self.staff_user,
            programme_id=programme_id,
            phrase=values["phrase"],
            language=values["language"],
            severity=values.get("severity", ""),
            category=values.get("category", ""),
            exclusion=values["exclusion"],
            concept=values.get("concept", ""),
        )
        return Response(CreatedPhraseOutput(row, context={"version": version}).data, status=status.HTTP_201_CREATED)


class PhraseDetailView(StaffAPIView):
    @extend_schema(request=None, responses={204: None}, summary="Remove a crisis phrase (supervisors)")
    def delete(self, request: Request, programme_id: int, phrase_id: int) -> Response:
        phrase_services.remove_phrase(actor=self.staff_user, programme_id=programme_id, phrase_id=phrase_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhraseHistoryView(StaffAPIView):
    @extend_schema(responses={200: PhraseHistoryOutput}, summary="Every change to a programme's crisis phrases")
    def get(self, request: Request, programme_id: int) -> Response:
        history = phrase_services.phrase_history(user=self.staff_user, programme_id=programme_id)
        return Response(PhraseHistoryOutput(history).data)
