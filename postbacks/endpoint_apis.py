"""The management API of postback endpoints: list, create, change, delete, test (docs/spec.md
§4)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import MAX_ID, error_responses
from config.api_input import BoundedLimitOffsetPagination
from config.permissions import HasManageScope
from postbacks import endpoint_changes, endpoints, lifecycle, probes, selectors
from postbacks.models import EventType, PostbackEndpoint
from postbacks.serializers import EndpointTestOutputSerializer

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
    fire_on = serializers.ListField(child=serializers.ChoiceField(choices=lifecycle.STATUSES))
    status_values = serializers.DictField(child=serializers.CharField())
    replaces: serializers.PrimaryKeyRelatedField[PostbackEndpoint] = (
        serializers.PrimaryKeyRelatedField(
            read_only=True,
            allow_null=True,
            help_text="The id of the live endpoint this one takes over from: set live, it "
            "disables that one. A change of what a live endpoint fires is made such an endpoint; "
            "null: none.",
        )
    )

    class Meta:
        model = PostbackEndpoint
        ref_name = "PostbackEndpoint"
        fields: tuple[str, ...] = (
            "id",
            "replaces",
            *endpoint_changes.ENDPOINT_FIELDS,
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class EndpointRevisionOutputSerializer(EndpointOutputSerializer):
    notes = serializers.SerializerMethodField(
        help_text="What happened and what to do next: the live endpoint stays as it was, this "
        "new one waits for a test postback and for being set live."
    )

    class Meta(EndpointOutputSerializer.Meta):
        ref_name = "PostbackEndpointRevision"
        fields = (*EndpointOutputSerializer.Meta.fields, "notes")
        read_only_fields = fields

    def get_notes(self, obj: PostbackEndpoint) -> list[str]:
        return list(self.context["notes"])


def _revision_notes(change: endpoint_changes.EndpointChange) -> list[str]:
    assert change.revision is not None
    live, new = change.endpoint.pk, change.revision.pk
    notes = [
        f"endpoint #{live} stays live as it was; your change is endpoint #{new} in testing: send "
        f"it a test postback (POST /api/v1/postback-endpoints/{new}/test/), then set it live "
        f'(PATCH /api/v1/postback-endpoints/{new}/ with {{"status": "live"}}), which disables '
        f"#{live}"
    ]
    notes += [
        f"endpoint #{pk}, an earlier change of #{live}, is disabled" for pk in change.superseded
    ]
    return notes


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
    fire_on = serializers.ListField(
        child=serializers.ChoiceField(choices=lifecycle.STATUSES),
        min_length=1,
        max_length=len(lifecycle.STATUSES),
        default=lambda: list(lifecycle.DEFAULT_FIRE_ON),
        help_text='The conversion statuses that fire this endpoint; default ["approved"]: a '
        "pending sale waits for its approval, a rejected one is never sent.",
    )
    status_values = serializers.DictField(
        child=serializers.CharField(max_length=lifecycle.STATUS_WORD_MAX_LENGTH),
        default=dict,
        help_text='How the receiver spells each status for {status}, e.g. {"approved": "sale", '
        '"reversed": "rejected"}; a status left out is sent as it is named.',
    )

    success_body = serializers.CharField(
        allow_blank=True,
        max_length=200,
        default="",
        help_text="Text the receiver's answer must contain to count as received, e.g. OK; "
        "empty: any 2xx answer.",
    )

    class Meta:
        ref_name = "PostbackEndpointInput"


@extend_schema(tags=["postback endpoints"])
class EndpointListCreateApi(APIView):
    permission_classes = [HasManageScope]
    pagination_class = BoundedLimitOffsetPagination

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
        queryset = selectors.endpoint_list(
            affiliate_network_id=filters.validated_data.get("affiliate_id"),
            status=filters.validated_data.get("status"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(EndpointOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="postback_endpoints_create",
        summary="Create a postback endpoint",
        description="The URL template is checked against the affiliate's tracker params "
        "(docs/spec.md §4).",
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


_CHANGE_DESCRIPTION = (
    "Changed in place (`200`, the endpoint as it is now), except a change of what a live "
    "endpoint fires (its affiliate, offer, event types, URL template, method, `fire_on` or "
    "`status_values`) that leaves it live: that endpoint is left as it was and keeps firing, and "
    "the change is made a new endpoint in `testing` that `replaces` it (`202`, the new endpoint "
    "with `notes`). Send that one a test postback, then set it live with "
    '`{"status": "live"}`: allowed once its latest test succeeded, it disables the endpoint it '
    "replaces in the same transaction. A change that also takes the live endpoint out of "
    "`live` (draft, testing, disabled) is made in place."
)
_CHANGE_RESPONSES = {
    200: EndpointOutputSerializer,
    202: EndpointRevisionOutputSerializer,
    **error_responses(400, 404, 413, 415),
}


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
        description=_CHANGE_DESCRIPTION,
        request=EndpointInputSerializer,
        responses=_CHANGE_RESPONSES,
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="postback_endpoints_partial_update",
        summary="Change some fields of a postback endpoint",
        description=_CHANGE_DESCRIPTION,
        request=EndpointInputSerializer(partial=True),
        responses=_CHANGE_RESPONSES,
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    def _update(self, request: Request, pk: int, *, partial: bool) -> Response:
        endpoint = get_object_or_404(PostbackEndpoint, pk=pk)
        serializer = EndpointInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        change = endpoint_changes.endpoint_update(
            endpoint=endpoint, data=serializer.validated_data, user=request.user
        )
        if change.revision is None:
            return Response(EndpointOutputSerializer(selectors.endpoint_list().get(pk=pk)).data)
        revision = selectors.endpoint_list().get(pk=change.revision.pk)
        answer = EndpointRevisionOutputSerializer(
            revision, context={"notes": _revision_notes(change)}
        )
        return Response(answer.data, status=status.HTTP_202_ACCEPTED)

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
