"""The shapes of an alert, for the API and for the live ``alert.new`` / ``alert.updated``
frames alike: one serializer per shape, each reading an ``Alert`` row."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.crisis.models import Alert
from backend.crisis.selectors import TimelineEntry
from backend.crisis.severity import Severity


class ReasonOutput(serializers.Serializer[dict[str, str]]):
    category = serializers.CharField()
    rule = serializers.CharField(
        help_text='a rule of the crisis language ("threat_against_family"), "listed_phrase", '
        '"programme_phrase", "text_model" (the learned model) or "duress_phrase"'
    )


class AlertOutput(serializers.Serializer[Alert]):
    id = serializers.IntegerField()
    case_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Alert.Kind.values)
    severity = serializers.ChoiceField(choices=[s.value for s in Severity], source="severity_name")
    state = serializers.ChoiceField(choices=Alert.State.choices)
    categories = serializers.ListField(child=serializers.CharField())
    reasons = ReasonOutput(many=True, help_text="which category and which rule raised it; never message words")
    trigger_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    acknowledged_by = serializers.IntegerField(source="acknowledged_by_id", allow_null=True)
    resolved_by = serializers.IntegerField(source="resolved_by_id", allow_null=True)


class AlertNoticeOutput(AlertOutput):
    """What a staff socket is told of an alert (``alert.new``, ``alert.updated``): the
    fields that identify it, no message text, no names."""

    notice_fields = ("id", "case_id", "kind", "severity", "state", "created_at")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Alert]]:
        fields = super().get_fields()
        return {name: fields[name] for name in self.notice_fields}


class TimelineItem(serializers.Serializer[TimelineEntry]):
    at = serializers.DateTimeField()
    event = serializers.CharField()
    actor = serializers.IntegerField(allow_null=True)
    detail = serializers.DictField()


# An alert with its timeline; the timeline (``crisis.selectors.alert_timeline``) comes
# in the serializer's context as ``timeline``, read once by the view.
class AlertDetailOutput(AlertOutput):
    resolution_note = serializers.CharField()
    timeline = serializers.SerializerMethodField()

    # DRF hands every method field the alert; the timeline is already in the context.
    @extend_schema_field(TimelineItem(many=True))
    def get_timeline(self, alert: Alert) -> Any:  # noqa: ARG002
        return TimelineItem(self.context["timeline"], many=True).data


def alert_notice(alert: Alert) -> dict[str, Any]:
    """``AlertNoticeOutput`` as a plain dict (frames go through json and msgpack)."""
    return dict(AlertNoticeOutput(alert).data)
