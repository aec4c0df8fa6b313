"""The ingest API (SPEC §5) and the management API of endpoints and deliveries."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.permissions import HasIngestScope, HasManageScope
from config.throttling import IngestRateThrottle, ingest_rate_charge
from postbacks import endpoints, probes, selectors, services
from postbacks.models import Conversion, Delivery, DeliveryAttempt, EventType, PostbackEndpoint
from postbacks.serializers import (
    MAX_ID,
    DeliveryOutputSerializer,
    EndpointTestOutputSerializer,
    currency_validator,
    error_responses,
)

BATCH_MAX_ITEMS = 1000
REPLAY_MAX_IDS = 1000
BATCH_RESULT_STATUSES = [(202, "stored"), (200, "already stored"), (400, "invalid")]

# ------------------------------------------------------------------------------
# Conversions
# ------------------------------------------------------------------------------


class ConversionInputSerializer(serializers.Serializer):
    """One conversion event as the network reports it. Optional fields may be null (= absent)."""

    transaction_id = serializers.CharField(
        max_length=128,
        # The network's id is stored exactly as sent: trimming could merge two ids.
        trim_whitespace=False,
        validators=[RegexValidator(r"\S", "The transaction id cannot be blank.")],
    )
    event = serializers.CharField(max_length=32, help_text="An active event type code.")
    offer_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The offer's id on the network."
    )
    tracker = serializers.CharField(
        max_length=1024,
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        help_text="The raw tracker as received on the click.",
    )
    affiliate_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="The affiliate's network id, where the link carried it outside the tracker.",
    )
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        required=False,
        allow_null=True,
        help_text='The affiliate\'s commission for this event, e.g. "35.00".',
    )
    currency = serializers.CharField(
        required=False,
        allow_null=True,
        validators=[currency_validator],
        help_text="ISO 4217; default: the offer's.",
    )
    occurred_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="ISO 8601; without an offset it is UTC. Default: now.",
    )


class ConversionAnswerSerializer(serializers.Serializer):
    """The answer to an ingested conversion, the first time (202) and every time after (200)."""

    id = serializers.IntegerField()
    transaction_id = serializers.CharField()
    event = serializers.CharField()
    attribution = serializers.ChoiceField(choices=Conversion.Attribution.choices)
    attribution_error = serializers.CharField()
    deliveries = serializers.ListField(child=serializers.IntegerField())


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
    )


def _answer(result: services.IngestResult) -> dict[str, Any]:
    conversion = result.conversion
    return {
        "id": conversion.pk,
        "transaction_id": conversion.transaction_id,
        "event": conversion.event_type.code,
        "attribution": conversion.attribution,
        "attribution_error": conversion.attribution_error,
        "deliveries": result.delivery_ids,
    }


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
            "event) again answers 200 with the first answer and creates nothing."
        ),
        request=ConversionInputSerializer,
        responses={
            202: OpenApiResponse(
                ConversionAnswerSerializer, description="Stored; postbacks queued."
            ),
            200: OpenApiResponse(
                ConversionAnswerSerializer, description="Already stored: the first answer."
            ),
            **error_responses(400, 413, 415, 429),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = ConversionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        (result,) = services.conversions_ingest(items=[_item(serializer.validated_data)])
        if isinstance(result, DjangoValidationError):
            raise result
        return Response(
            ConversionAnswerSerializer(_answer(result)).data, status=_answer_status(result)
        )


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
        return Response(self.OutputSerializer({"results": results}).data)


@extend_schema(tags=["conversions"])
class ConversionDetailApi(APIView):
    permission_classes = [HasIngestScope]

    class OutputSerializer(serializers.ModelSerializer):
        event = serializers.CharField(source="event_type.code")
        offer_id = serializers.IntegerField(source="offer.network_offer_id")
        affiliate_id = serializers.IntegerField(source="affiliate.network_id", allow_null=True)
        tracker = serializers.CharField(source="tracker_raw")
        tracker_values = serializers.DictField(child=serializers.CharField())
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
    permission_classes = [HasIngestScope]

    @extend_schema(
        operation_id="deliveries_retrieve",
        summary="A delivery with its attempts",
        responses={200: DeliveryOutputSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        delivery = get_object_or_404(
            Delivery.objects.prefetch_related(
                Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
            ),
            pk=pk,
        )
        return Response(DeliveryOutputSerializer(delivery).data)


@extend_schema(tags=["deliveries"])
class DeliveryReplayApi(APIView):
    permission_classes = [HasManageScope]

    class InputSerializer(serializers.Serializer):
        ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
            min_length=1,
            max_length=REPLAY_MAX_IDS,
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

        class Meta:
            ref_name = "DeliveryReplayOutput"

    @extend_schema(
        operation_id="deliveries_replay",
        summary="Send deliveries again now, whatever their state",
        request=InputSerializer,
        responses={202: OutputSerializer, **error_responses(400, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        replay = services.deliveries_replay(delivery_ids=serializer.validated_data["ids"])
        return Response(
            self.OutputSerializer(
                {"queued": replay.delivery_ids, "queue_available": replay.queued}
            ).data,
            status=status.HTTP_202_ACCEPTED,
        )


# ------------------------------------------------------------------------------
# Postback endpoints (management API)
# ------------------------------------------------------------------------------


class EndpointOutputSerializer(serializers.ModelSerializer):
    affiliate_id = serializers.IntegerField(
        source="affiliate.network_id", help_text="The affiliate's network id."
    )
    offer_id = serializers.IntegerField(
        source="offer.network_offer_id",
        allow_null=True,
        help_text="The offer's network id; null: every offer.",
    )
    event_types: serializers.SlugRelatedField[EventType] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="code"
    )

    class Meta:
        model = PostbackEndpoint
        ref_name = "PostbackEndpoint"
        fields = (
            "id",
            "affiliate_id",
            "offer_id",
            "event_types",
            "url_template",
            "method",
            "status",
            "disabled_reason",
            "test_link",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class EndpointInputSerializer(serializers.Serializer):
    affiliate_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The affiliate's network id."
    )
    offer_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        default=None,
        help_text="The offer's network id; null: every offer.",
    )
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=32),
        max_length=100,
        help_text='Event type codes, e.g. ["signup", "freereg"].',
    )
    url_template = serializers.CharField(max_length=2048)
    method = serializers.ChoiceField(
        choices=PostbackEndpoint.Method.choices, default=PostbackEndpoint.Method.GET
    )
    status = serializers.ChoiceField(
        choices=PostbackEndpoint.Status.choices, default=PostbackEndpoint.Status.DRAFT
    )
    disabled_reason = serializers.CharField(allow_blank=True, max_length=10_000, default="")
    test_link = serializers.CharField(allow_blank=True, max_length=2048, default="")

    class Meta:
        ref_name = "PostbackEndpointInput"


@extend_schema(tags=["postback endpoints"])
class EndpointListCreateApi(APIView):
    permission_classes = [HasManageScope]
    pagination_class = LimitOffsetPagination

    class FilterSerializer(serializers.Serializer):
        affiliate_id = serializers.IntegerField(
            min_value=1, max_value=MAX_ID, required=False, help_text="Only this affiliate's."
        )
        status = serializers.ChoiceField(choices=PostbackEndpoint.Status.choices, required=False)

        class Meta:
            ref_name = "PostbackEndpointFilter"

    @extend_schema(
        operation_id="postback_endpoints_list",
        summary="Postback endpoints",
        parameters=[FilterSerializer],
        responses={200: EndpointOutputSerializer(many=True), **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = selectors.endpoint_list()
        if "affiliate_id" in filters.validated_data:
            queryset = queryset.filter(affiliate__network_id=filters.validated_data["affiliate_id"])
        if "status" in filters.validated_data:
            queryset = queryset.filter(status=filters.validated_data["status"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(EndpointOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="postback_endpoints_create",
        summary="Create a postback endpoint",
        description="The URL template is checked against the affiliate's tracker params (SPEC §4).",
        request=EndpointInputSerializer,
        responses={201: EndpointOutputSerializer, **error_responses(400, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = EndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = endpoints.endpoint_create(**serializer.validated_data)
        return Response(
            EndpointOutputSerializer(selectors.endpoint_list().get(pk=endpoint.pk)).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["postback endpoints"])
class EndpointDetailApi(APIView):
    permission_classes = [HasManageScope]

    @extend_schema(
        operation_id="postback_endpoints_retrieve",
        summary="A postback endpoint",
        responses={200: EndpointOutputSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(
            EndpointOutputSerializer(get_object_or_404(selectors.endpoint_list(), pk=pk)).data
        )

    @extend_schema(
        operation_id="postback_endpoints_update",
        summary="Replace a postback endpoint",
        request=EndpointInputSerializer,
        responses={200: EndpointOutputSerializer, **error_responses(400, 404, 413, 415)},
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="postback_endpoints_partial_update",
        summary="Change some fields of a postback endpoint",
        request=EndpointInputSerializer(partial=True),
        responses={200: EndpointOutputSerializer, **error_responses(400, 404, 413, 415)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    def _update(self, request: Request, pk: int, *, partial: bool) -> Response:
        endpoint = get_object_or_404(PostbackEndpoint, pk=pk)
        serializer = EndpointInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        endpoints.endpoint_update(endpoint=endpoint, data=serializer.validated_data)
        return Response(EndpointOutputSerializer(selectors.endpoint_list().get(pk=pk)).data)

    @extend_schema(
        operation_id="postback_endpoints_destroy",
        summary="Delete a postback endpoint that never had a delivery",
        responses={204: None, **error_responses(400, 404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        endpoints.endpoint_delete(endpoint=get_object_or_404(PostbackEndpoint, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["postback endpoints"])
class EndpointTestApi(APIView):
    permission_classes = [HasManageScope]

    class InputSerializer(serializers.Serializer):
        event = serializers.CharField(
            max_length=32,
            required=False,
            help_text="One of the endpoint's event codes; default: the first (alphabetically).",
        )

        class Meta:
            ref_name = "PostbackEndpointTestInput"

    @extend_schema(
        operation_id="postback_endpoints_test",
        summary="Fire a test postback now",
        description=(
            "Renders the endpoint's template for a sample conversion with the tracker values of "
            "its test link (transaction id `test-<unix time>`), sends it at once through the same "
            "sender as real postbacks (address guard and timeouts included) and answers with the "
            "attempt's result. Any status may be tested. The test is kept in the endpoint's "
            "history as a test delivery; it is not retried. A template or test link that cannot "
            "be used answers 400 and sends nothing."
        ),
        request=InputSerializer,
        responses={200: EndpointTestOutputSerializer, **error_responses(400, 404, 413, 415)},
    )
    def post(self, request: Request, pk: int) -> Response:
        endpoint = get_object_or_404(
            PostbackEndpoint.objects.select_related("affiliate", "offer"), pk=pk
        )
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = probes.endpoint_test_fire(
            endpoint=endpoint,
            event_code=serializer.validated_data.get("event"),
            user=request.user,
        )
        return Response(EndpointTestOutputSerializer(result).data)
