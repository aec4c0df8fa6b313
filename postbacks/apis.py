"""The ingest API (docs/spec.md §5): conversions in, and what became of them (deliveries,
replay)."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import MAX_ID, error_responses
from config.permissions import HasIngestScope, HasManageScope
from config.throttling import IngestRateThrottle, ingest_rate_charge
from postbacks import lifecycle, mending, selectors, services
from postbacks.conversion_postbacks import conversion_amount_notes
from postbacks.ingest_input import ConversionInputSerializer, conversion_input_validate
from postbacks.models import Conversion
from postbacks.serializers import DeliveryOutputSerializer

BATCH_MAX_ITEMS = 1000
REPLAY_MAX_IDS = 1000
BATCH_RESULT_STATUSES = [(202, "stored"), (200, "already stored"), (400, "invalid")]

# ------------------------------------------------------------------------------
# Conversions
# ------------------------------------------------------------------------------


def _pair(child: serializers.Field) -> serializers.ListField:
    return serializers.ListField(child=child, min_length=2, max_length=2, required=False)


class IgnoredFieldsSerializer(serializers.Serializer):
    """Each field a repeat sent differently, as [stored, sent]; fields it left out are not
    compared."""

    offer_id = _pair(serializers.IntegerField())
    tracker = _pair(serializers.CharField(allow_blank=True))
    affiliate_id = _pair(serializers.IntegerField(allow_null=True))
    amount = _pair(serializers.CharField(allow_null=True))
    currency = _pair(serializers.CharField(allow_blank=True))
    occurred_at = _pair(serializers.CharField(allow_null=True))


class ConversionAnswerSerializer(serializers.Serializer):
    """The answer to an ingested conversion, the first time (202) and every time after (200)."""

    id = serializers.IntegerField()
    transaction_id = serializers.CharField()
    event = serializers.CharField()
    attribution = serializers.ChoiceField(choices=Conversion.Attribution.choices)
    attribution_error = serializers.CharField()
    deliveries = serializers.ListField(child=serializers.IntegerField())
    duplicate = serializers.BooleanField(
        required=False,
        help_text="Only on a repeat (200) that sent some field differently: true, and "
        "`ignored` says which; nothing was changed. An identical repeat answers exactly the "
        "first answer.",
    )
    ignored = IgnoredFieldsSerializer(required=False)
    notes = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Only when there is something to say: on a 202 that fires nothing, why "
        '(e.g. "affiliate 4567890 is paused", "no live endpoint for signup"); and what the '
        "postbacks do differently from what was posted, e.g. the offer's payout sent for a "
        "pay-per-sale conversion posted without an amount.",
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text='Only on a 202: what was stored but looks wrong, e.g. "tracker params left '
        "empty: clickId\" (the tracker had fewer values than the affiliate's params).",
    )


def _item(data: dict[str, Any]) -> services.IngestItem:
    return services.IngestItem(
        transaction_id=data["transaction_id"],
        event=data["event"],
        offer_id=data["offer_id"],
        tracker=data.get("tracker") or "",
        affiliate_id=data.get("affiliate_id"),
        amount=data.get("amount"),
        currency=(data.get("currency") or "").upper(),
        occurred_at=data.get("occurred_at"),
        status=data.get("status") or lifecycle.DEFAULT_STATUS,
    )


def _answer(result: services.IngestResult) -> dict[str, Any]:
    conversion = result.conversion
    answer: dict[str, Any] = {
        "id": conversion.pk,
        "transaction_id": conversion.transaction_id,
        "event": conversion.event_type.code,
        "attribution": conversion.attribution,
        "attribution_error": conversion.attribution_error,
        "deliveries": result.delivery_ids,
    }
    if result.ignored:
        # The one part that is not plain JSON already ([stored, sent] amounts and times).
        answer.update(duplicate=True, ignored=IgnoredFieldsSerializer(result.ignored).data)
    notes = [*result.notes, *conversion_amount_notes(conversion)]
    if notes:
        answer["notes"] = notes
    if result.warnings:
        answer["warnings"] = result.warnings
    return answer


def _answer_status(result: services.IngestResult) -> int:
    return status.HTTP_202_ACCEPTED if result.created else status.HTTP_200_OK


@extend_schema(tags=["conversions"])
class ConversionIngestApi(APIView):
    permission_classes = [HasIngestScope]
    throttle_classes = [IngestRateThrottle]

    @extend_schema(
        operation_id="conversions_ingest",
        summary="Report a conversion event",
        description=(
            "Stores the conversion once and queues its postbacks. The same (transaction_id, "
            "event) again answers 200 with the first answer and creates nothing; when the "
            "repeat sent some field differently, the answer adds `duplicate: true` and "
            "`ignored` (field -> [stored, sent])."
        ),
        request=ConversionInputSerializer,
        responses={
            202: OpenApiResponse(
                ConversionAnswerSerializer, description="Stored; postbacks queued."
            ),
            200: OpenApiResponse(
                ConversionAnswerSerializer,
                description="Already stored: the first answer (with `duplicate` and `ignored` "
                "when the repeat differs).",
            ),
            **error_responses(400, 413, 415, 429),
        },
    )
    def post(self, request: Request) -> Response:
        validated = conversion_input_validate(request.data)
        if validated is None:
            serializer = ConversionInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            validated = dict(serializer.validated_data)
        (result,) = services.conversions_ingest(items=[_item(validated)])
        if isinstance(result, DjangoValidationError):
            raise result
        # _answer is the serializer's shape in plain JSON values: no serializer pass per answer.
        return Response(_answer(result), status=_answer_status(result))


@extend_schema_field(ConversionInputSerializer(many=True))
class _ConversionItemsField(serializers.ListField):
    """Items are checked one by one by the view, so one bad item does not sink the rest."""

    child = serializers.JSONField()


class ConversionBatchResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=BATCH_RESULT_STATUSES)
    id = serializers.IntegerField(required=False)
    transaction_id = serializers.CharField(required=False)
    event = serializers.CharField(required=False)
    attribution = serializers.ChoiceField(choices=Conversion.Attribution.choices, required=False)
    attribution_error = serializers.CharField(required=False)
    deliveries = serializers.ListField(child=serializers.IntegerField(), required=False)
    duplicate = serializers.BooleanField(required=False)
    ignored = IgnoredFieldsSerializer(required=False)
    notes = serializers.ListField(child=serializers.CharField(), required=False)
    warnings = serializers.ListField(child=serializers.CharField(), required=False)
    # The metaclass moves declared fields off the class, so this does not hide Serializer.errors.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For status 400: field name -> messages.",
    )


@extend_schema(tags=["conversions"])
class ConversionBatchApi(APIView):
    permission_classes = [HasIngestScope]
    throttle_classes = [IngestRateThrottle]

    class InputSerializer(serializers.Serializer):
        conversions = _ConversionItemsField(max_length=BATCH_MAX_ITEMS)

        class Meta:
            ref_name = "ConversionBatchInput"

    class OutputSerializer(serializers.Serializer):
        results = ConversionBatchResultSerializer(many=True)

        class Meta:
            ref_name = "ConversionBatchOutput"

    @extend_schema(
        operation_id="conversions_ingest_batch",
        summary="Report up to 1000 conversion events",
        description=(
            "Each item is stored (or refused) on its own, as by POST /conversions/; the answer "
            "holds one result per item, in order: status 202 or 200 with the answer, or 400 "
            "with `errors`. When the database fails midway the whole batch answers 503; "
            "sending it again is safe (items already stored answer 200)."
        ),
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 413, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The throttle counted this request as one conversion; the batch counts its items.
        ingest_rate_charge(request, cost=len(serializer.validated_data["conversions"]) - 1)
        results: list[dict[str, Any]] = []
        valid: list[tuple[int, services.IngestItem]] = []
        for index, item in enumerate(serializer.validated_data["conversions"]):
            validated = conversion_input_validate(item)
            if validated is not None:
                valid.append((index, _item(validated)))
                results.append({})
                continue
            item_serializer = ConversionInputSerializer(data=item)
            if item_serializer.is_valid():
                valid.append((index, _item(item_serializer.validated_data)))
                results.append({})
            else:
                results.append({"status": 400, "errors": item_serializer.errors})
        ingested = services.conversions_ingest(items=[item for _, item in valid])
        for (index, _), result in zip(valid, ingested, strict=True):
            if isinstance(result, DjangoValidationError):
                results[index] = {"status": 400, "errors": result.message_dict}
            else:
                results[index] = {"status": _answer_status(result), **_answer(result)}
        return Response({"results": results})


@extend_schema(tags=["conversions"])
class ConversionDetailApi(APIView):
    permission_classes = [HasIngestScope]

    class OutputSerializer(serializers.ModelSerializer):
        event = serializers.CharField(source="event_type.code")
        offer_id = serializers.IntegerField(source="offer.network_offer_id")
        affiliate_id = serializers.IntegerField(source="affiliate.network_id", allow_null=True)
        tracker = serializers.CharField(source="tracker_raw")
        tracker_values = serializers.DictField(child=serializers.CharField())
        status = serializers.ChoiceField(choices=lifecycle.STATUSES)
        deliveries = DeliveryOutputSerializer(many=True)

        class Meta:
            model = Conversion
            ref_name = "ConversionDetail"
            fields = (
                "id",
                "transaction_id",
                "event",
                "offer_id",
                "affiliate_id",
                "tracker",
                "tracker_values",
                "amount",
                "currency",
                "occurred_at",
                "received_at",
                "attribution",
                "attribution_error",
                "status",
                "status_reason",
                "status_changed_at",
                "deliveries",
            )
            read_only_fields = fields

    @extend_schema(
        operation_id="conversions_retrieve",
        summary="A conversion with its deliveries and their attempts",
        responses={200: OutputSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        conversion = get_object_or_404(selectors.conversions_with_deliveries(), pk=pk)
        return Response(self.OutputSerializer(conversion).data)


# ------------------------------------------------------------------------------
# Deliveries
# ------------------------------------------------------------------------------


@extend_schema(tags=["deliveries"])
class DeliveryDetailApi(APIView):
    permission_classes = [HasManageScope]

    @extend_schema(
        operation_id="deliveries_retrieve",
        summary="A delivery with its attempts",
        responses={200: DeliveryOutputSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        delivery = get_object_or_404(selectors.deliveries_with_attempts(), pk=pk)
        return Response(DeliveryOutputSerializer(delivery).data)


class ReplayRefusedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    error = serializers.CharField()


@extend_schema(tags=["deliveries"])
class DeliveryReplayApi(APIView):
    permission_classes = [HasManageScope]

    class InputSerializer(serializers.Serializer):
        ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
            min_length=1,
            max_length=REPLAY_MAX_IDS,
        )
        rerender = serializers.BooleanField(
            default=False,
            help_text="Render each URL again from its endpoint's template as it is now (a fixed "
            "host, a new macro); the attempts made before keep the URL they sent. Without it, "
            "the stored URL is sent again.",
        )

        class Meta:
            ref_name = "DeliveryReplayInput"

    class OutputSerializer(serializers.Serializer):
        queued = serializers.ListField(
            child=serializers.IntegerField(),
            help_text="The deliveries made due now and queued (one being sent is left alone).",
        )
        queue_available = serializers.BooleanField(
            help_text="False when the queue is away: the deliveries are due and are sent as "
            "soon as it is back."
        )
        refused = ReplayRefusedSerializer(
            many=True,
            required=False,
            help_text="With rerender only: the deliveries not replayed, and why (a template that "
            "cannot render now, a test postback).",
        )

        class Meta:
            ref_name = "DeliveryReplayOutput"

    @extend_schema(
        operation_id="deliveries_replay",
        summary="Send deliveries again now, whatever their state",
        description=(
            "Without `rerender` each delivery sends its stored URL again. With `rerender: true` "
            "the URL is rendered again from the endpoint's template as it is now; every attempt "
            "keeps the URL it sent (`attempt_log[].url`)."
        ),
        request=InputSerializer,
        responses={202: OutputSerializer, **error_responses(400, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data["ids"]
        answer: dict[str, Any] = {}
        if serializer.validated_data["rerender"]:
            rerendered = mending.deliveries_replay_rerendered(delivery_ids=ids)
            replay = rerendered.replay
            answer["refused"] = [
                {"id": pk, "error": error} for pk, error in rerendered.refused.items()
            ]
        else:
            replay = mending.deliveries_replay(delivery_ids=ids)
        answer.update(queued=replay.delivery_ids, queue_available=replay.queued)
        return Response(self.OutputSerializer(answer).data, status=status.HTTP_202_ACCEPTED)
