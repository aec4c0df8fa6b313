"""Serializers and schema pieces shared by several API views (docs/spec.md §5)."""

from rest_framework import serializers

from postbacks import lifecycle
from postbacks.models import Delivery, DeliveryAttempt


class DeliveryAttemptOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = (
            "number",
            "trigger",
            "url",
            "started_at",
            "duration_ms",
            "status_code",
            "error",
            "response_excerpt",
        )


class DeliveryOutputSerializer(serializers.ModelSerializer):
    """A delivery with its attempts; callers prefetch `attempt_log`."""

    conversion_id = serializers.IntegerField(allow_null=True)
    endpoint_id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=lifecycle.STATUSES, help_text="The conversion status this postback tells of."
    )
    attempt_log = DeliveryAttemptOutputSerializer(many=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "conversion_id",
            "endpoint_id",
            "status",
            "url",
            "method",
            "state",
            "is_test",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "updated_at",
            "completed_at",
            "attempt_log",
        )
        read_only_fields = fields


class EndpointTestOutputSerializer(serializers.Serializer):
    """The result of one test postback (postbacks.probes.ProbeResult)."""

    url = serializers.CharField(help_text="The URL as rendered and sent.")
    method = serializers.CharField()
    event = serializers.CharField(help_text="The event code of the sample conversion.")
    tracker_source = serializers.CharField(
        source="source", help_text="Where the tracker values came from."
    )
    succeeded = serializers.BooleanField(help_text="True when the receiver answered 2xx.")
    status_code = serializers.IntegerField(
        allow_null=True, help_text="The receiver's status; null when it never answered."
    )
    duration_ms = serializers.IntegerField(allow_null=True, help_text="Latency of the attempt.")
    response_excerpt = serializers.CharField(help_text="The first KiB of the receiver's answer.")
    error = serializers.CharField(
        help_text='Why it failed, e.g. "timed out after 15.0 s" or "address refused: ..."; '
        "empty on success."
    )
    delivery_id = serializers.IntegerField(help_text="The test delivery kept in the history.")
    attempt_id = serializers.IntegerField(allow_null=True)
