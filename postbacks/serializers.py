"""Serializers and schema pieces shared by several API views (SPEC §5)."""

from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from postbacks.models import Delivery, DeliveryAttempt

# The largest value of the bigint columns that hold ids: anything above is refused as input
# rather than reaching the database.
MAX_ID = 2**63 - 1

currency_validator = RegexValidator(
    r"\A[A-Za-z]{3}\Z", "Use a three-letter ISO 4217 code, e.g. USD or EUR."
)

_ERROR_DESCRIPTIONS = {
    400: "Invalid input: an object of field name -> list of messages "
    "(`non_field_errors` or `detail` for the body as a whole).",
    401: "No token, or an unknown one (`Authorization: Token <key>`).",
    403: "The token's scope does not allow this.",
    404: "No such object.",
    413: "The body is larger than the endpoint accepts.",
    415: "The body is not JSON (send Content-Type: application/json).",
    429: "This token posted more conversions this minute than INGEST_RATE_LIMIT allows; "
    "`Retry-After` says when to send again.",
    503: "The database is unavailable; nothing was stored. Retry.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error answers of a view (always 401, 403 and 503)."""
    wanted = sorted({*codes, 401, 403, 503})
    return {code: OpenApiResponse(description=_ERROR_DESCRIPTIONS[code]) for code in wanted}


class DeliveryAttemptOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = (
            "number",
            "trigger",
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
    attempt_log = DeliveryAttemptOutputSerializer(many=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "conversion_id",
            "endpoint_id",
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
