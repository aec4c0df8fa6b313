"""Management API of offers (docs/spec.md §5): validated as the admin validates them."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import MAX_ID, error_responses
from config.api_input import BoundedLimitOffsetPagination
from config.permissions import HasManageScope
from offers import services
from offers.currencies import validate_currency
from offers.models import Offer


class OfferOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Offer
        ref_name = "Offer"
        fields = ("id", *services.OFFER_FIELDS, "created_at", "updated_at")
        read_only_fields = fields


class OfferInputSerializer(serializers.Serializer):
    network_offer_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Offer.Kind.choices)
    vertical = serializers.CharField(max_length=100, allow_blank=True, default="")
    landing_url = serializers.URLField(max_length=1024)
    payout = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        default=None,
        help_text="Fixed payout per sale (PPS offers).",
    )
    currency = serializers.CharField(validators=[validate_currency], default="USD")
    revshare_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        default=None,
        help_text="Share of what the customer pays (revshare offers).",
    )
    is_active = serializers.BooleanField(default=True)

    class Meta:
        ref_name = "OfferInput"

    def validate_currency(self, value: str) -> str:
        return value.upper()


@extend_schema(tags=["offers"])
class OfferListCreateApi(APIView):
    permission_classes = [HasManageScope]
    pagination_class = BoundedLimitOffsetPagination

    @extend_schema(
        operation_id="offers_list",
        summary="Offers, by network offer id",
        responses={200: OfferOutputSerializer(many=True), **error_responses()},
    )
    def get(self, request: Request) -> Response:
        queryset = Offer.objects.order_by("network_offer_id")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(OfferOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="offers_create",
        summary="Create an offer",
        request=OfferInputSerializer,
        responses={201: OfferOutputSerializer, **error_responses(400, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = OfferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        offer = services.offer_create(**serializer.validated_data)
        return Response(OfferOutputSerializer(offer).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["offers"])
class OfferDetailApi(APIView):
    permission_classes = [HasManageScope]

    @extend_schema(
        operation_id="offers_retrieve",
        summary="An offer",
        responses={200: OfferOutputSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(OfferOutputSerializer(get_object_or_404(Offer, pk=pk)).data)

    @extend_schema(
        operation_id="offers_update",
        summary="Replace an offer",
        request=OfferInputSerializer,
        responses={200: OfferOutputSerializer, **error_responses(400, 404, 413, 415)},
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="offers_partial_update",
        summary="Change some fields of an offer",
        request=OfferInputSerializer(partial=True),
        responses={200: OfferOutputSerializer, **error_responses(400, 404, 413, 415)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    def _update(self, request: Request, pk: int, *, partial: bool) -> Response:
        offer = get_object_or_404(Offer, pk=pk)
        serializer = OfferInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        offer = services.offer_update(offer=offer, data=serializer.validated_data)
        return Response(OfferOutputSerializer(offer).data)

    @extend_schema(
        operation_id="offers_destroy",
        summary="Delete an offer without conversions (and its offer-level endpoints)",
        responses={204: None, **error_responses(400, 404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.offer_delete(offer=get_object_or_404(Offer, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
