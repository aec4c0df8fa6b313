"""The status API: internal systems approve, reject and reverse conversions, one by id or up to
1000 by (transaction_id, event). Ingest-scope tokens may; the token's user is recorded as who."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_responses
from config.permissions import HasIngestScope
from postbacks import conversion_status, lifecycle
from postbacks.conversion_status import KeyedStatusRequest, StatusOutcome, StatusRefused

STATUS_BATCH_MAX_ITEMS = 1000
REASON_MAX_LENGTH = 500
TRANSACTION_ID_MAX_LENGTH = 128
EVENT_MAX_LENGTH = 32
ITEM_ERROR_CODES = [
    ("not_found", "no conversion with that transaction_id and event"),
    ("invalid_transition", "the conversion's current status cannot become the one asked for"),
]


class _StatusFields(serializers.Serializer):
    """What a change asks for. The reason is free text (newlines allowed; a NUL is refused)."""

    status = serializers.ChoiceField(
        choices=lifecycle.STATUSES, help_text="The status the conversion should have."
    )
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why, for the record and the affiliate (e.g. a chargeback's reference).",
    )


class StatusOutcomeSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The conversion's id.")
    status = serializers.ChoiceField(
        choices=lifecycle.STATUSES, help_text="The conversion's status now."
    )
    previous_status = serializers.ChoiceField(
        choices=lifecycle.STATUSES,
        help_text="Its status before; the same as `status` when nothing changed.",
    )
    changed = serializers.BooleanField(
        help_text="False when the conversion already had that status: nothing changed, "
        "nothing fires."
    )
    deliveries = serializers.ListField(
        child=serializers.IntegerField(), help_text="The postbacks this change fired."
    )


class StatusRefusedSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ITEM_ERROR_CODES)
    detail = serializers.CharField()
    id = serializers.IntegerField(required=False, help_text="The conversion's id, when found.")
    status = serializers.ChoiceField(
        choices=lifecycle.STATUSES,
        required=False,
        help_text="The conversion's current status (invalid_transition).",
    )


def _outcome(outcome: StatusOutcome) -> dict[str, Any]:
    return {
        "id": outcome.conversion_id,
        "status": outcome.status,
        "previous_status": outcome.previous_status,
        "changed": outcome.changed,
        "deliveries": list(outcome.delivery_ids),
    }


def _refusal(refused: StatusRefused) -> dict[str, Any]:
    answer: dict[str, Any] = {"code": refused.code, "detail": str(refused)}
    if refused.code != "not_found":
        answer["id"] = refused.conversion_id
        answer["status"] = refused.current_status
    return answer


@extend_schema(tags=["conversions"])
class ConversionStatusApi(APIView):
    permission_classes = [HasIngestScope]

    class InputSerializer(_StatusFields):
        class Meta:
            ref_name = "ConversionStatusInput"

    @extend_schema(
        operation_id="conversions_status_change",
        summary="Approve, reject or reverse one conversion",
        description=(
            "Allowed: pending -> approved | rejected, approved -> reversed, rejected -> "
            "approved. The status it already has answers 200 with `changed` false and fires "
            "nothing; any other change answers 409 naming the current status."
        ),
        request=InputSerializer,
        responses={
            200: StatusOutcomeSerializer,
            404: OpenApiResponse(StatusRefusedSerializer, description="No such conversion."),
            409: OpenApiResponse(
                StatusRefusedSerializer,
                description="`invalid_transition`: the current status (in `status`) cannot "
                "become the one asked for; nothing was changed.",
            ),
            **error_responses(400, 413, 415),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            outcome = conversion_status.conversion_status_change(
                conversion_id=pk,
                status=serializer.validated_data["status"],
                reason=serializer.validated_data["reason"],
                changed_by=request.user,  # type: ignore[arg-type]
                source=conversion_status.Source.API,
            )
        except StatusRefused as refused:
            code = (
                status.HTTP_404_NOT_FOUND
                if refused.code == "not_found"
                else status.HTTP_409_CONFLICT
            )
            return Response(StatusRefusedSerializer(_refusal(refused)).data, status=code)
        return Response(StatusOutcomeSerializer(_outcome(outcome)).data)


class StatusChangeItemSerializer(_StatusFields):
    transaction_id = serializers.CharField(
        max_length=TRANSACTION_ID_MAX_LENGTH, trim_whitespace=False
    )
    event = serializers.CharField(
        max_length=EVENT_MAX_LENGTH, help_text="The conversion's event code."
    )

    class Meta:
        ref_name = "ConversionStatusChangeItem"


_STATUSES = frozenset(lifecycle.STATUSES)


def _plain_text(value: object, *, max_length: int, trim: bool, allow_blank: bool) -> str | None:
    """`value` as a DRF CharField with these options validates it, or None when the field could
    refuse or convert it (a number, NUL, a lone surrogate, too long, blank where not allowed)."""
    if type(value) is not str:
        return None
    text = value.strip() if trim else value
    if (not text and not allow_blank) or len(text) > max_length or "\x00" in text:
        return None
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return text


def plain_changes(data: object) -> list[KeyedStatusRequest] | None:
    """The batch's changes, checked in plain Python, or None for anything short of a list of
    well-formed changes: then ConversionStatusBatchApi.InputSerializer decides.

    A thousand changes through the serializer were 72 ms of a 1.8 s profiled request (its
    output serializer 105 ms more); these checks take the same inputs to the same values
    (tests/api/test_status_plain_input.py holds them to it), so an error answer is still the
    serializer's own."""
    if type(data) is not dict:
        return None
    items = data.get("changes")
    if type(items) is not list or not 0 < len(items) <= STATUS_BATCH_MAX_ITEMS:
        return None
    changes = []
    for item in items:
        if type(item) is not dict:
            return None
        status = item.get("status")
        transaction_id = _plain_text(
            item.get("transaction_id"),
            max_length=TRANSACTION_ID_MAX_LENGTH,
            trim=False,
            allow_blank=False,
        )
        event = _plain_text(
            item.get("event"), max_length=EVENT_MAX_LENGTH, trim=True, allow_blank=False
        )
        reason = _plain_text(
            item.get("reason", ""), max_length=REASON_MAX_LENGTH, trim=True, allow_blank=True
        )
        if type(status) is not str or status not in _STATUSES:
            return None
        if transaction_id is None or event is None or reason is None:
            return None
        changes.append(KeyedStatusRequest(transaction_id, event, status, reason))
    return changes


def _batch_result(result: StatusOutcome | StatusRefused) -> dict[str, Any]:
    """One result of the batch, keys in StatusBatchResultSerializer's order."""
    if isinstance(result, StatusOutcome):
        return _outcome(result)
    if result.code == "not_found":
        return {"code": result.code, "detail": str(result)}
    return {
        "id": result.conversion_id,
        "status": result.current_status,
        "code": result.code,
        "detail": str(result),
    }


class StatusBatchResultSerializer(serializers.Serializer):
    """One per change, in order: the outcome, or `code` and `detail` when it was refused."""

    id = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=lifecycle.STATUSES, required=False)
    previous_status = serializers.ChoiceField(choices=lifecycle.STATUSES, required=False)
    changed = serializers.BooleanField(required=False)
    deliveries = serializers.ListField(child=serializers.IntegerField(), required=False)
    code = serializers.ChoiceField(choices=ITEM_ERROR_CODES, required=False)
    detail = serializers.CharField(required=False)


@extend_schema(tags=["conversions"])
class ConversionStatusBatchApi(APIView):
    permission_classes = [HasIngestScope]

    class InputSerializer(serializers.Serializer):
        changes: serializers.ListSerializer[Any] = serializers.ListSerializer(
            child=StatusChangeItemSerializer(), allow_empty=False, max_length=STATUS_BATCH_MAX_ITEMS
        )

        class Meta:
            ref_name = "ConversionStatusBatchInput"

    class OutputSerializer(serializers.Serializer):
        results = StatusBatchResultSerializer(many=True)

        class Meta:
            ref_name = "ConversionStatusBatchOutput"

    @extend_schema(
        operation_id="conversions_status_change_batch",
        summary="Approve, reject or reverse up to 1000 conversions",
        description=(
            "Each change is applied on its own, in order, as by POST /conversions/{id}/status/; "
            "the answer holds one result per change: the outcome, or `code` `not_found` or "
            "`invalid_transition` (with the current `status`) for a change that was refused. "
            "A malformed change (unknown status, reason over 500 characters, ...) is a 400 for "
            "the whole batch and nothing is applied."
        ),
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        changes = plain_changes(request.data)
        if changes is None:
            # Something the plain checks do not take as it is: the serializer decides, in its
            # own words (a 400 naming the field), or with the values it converts.
            serializer = self.InputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            changes = [
                KeyedStatusRequest(c["transaction_id"], c["event"], c["status"], c["reason"])
                for c in serializer.validated_data["changes"]
            ]
        outcomes = conversion_status.conversion_statuses_change_by_key(
            requests=changes,
            changed_by=request.user,  # type: ignore[arg-type]
            source=conversion_status.Source.API,
        )
        return Response({"results": [_batch_result(outcome) for outcome in outcomes]})
