"""Management API of affiliates (docs/spec.md §5): validated as the admin validates them."""

from typing import Any

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from affiliates import services
from affiliates.models import Affiliate
from affiliates.validators import MAX_TRACKER_PARAMS
from config.api import MAX_ID, error_responses
from config.api_input import BoundedLimitOffsetPagination
from config.permissions import HasManageScope


class AffiliateOutputSerializer(serializers.ModelSerializer):
    account_manager: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    # Declared: the generated read-only field drops allow_blank, and the schema then calls ""
    # (no address on file) an invalid email.
    email = serializers.EmailField(read_only=True, allow_blank=True)
    tracker_params = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Affiliate
        ref_name = "Affiliate"
        fields = ("id", *services.AFFILIATE_FIELDS, "created_at", "updated_at")
        read_only_fields = fields


class _UsernameField(serializers.SlugRelatedField[User]):
    """A username; one with a NUL character names no one (PostgreSQL refuses NUL in a lookup,
    which would surface as a database error, 503)."""

    def to_internal_value(self, data: Any) -> User:
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class AffiliateInputSerializer(serializers.Serializer):
    network_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(allow_blank=True, default="")
    account_manager: serializers.SlugRelatedField[User] = _UsernameField(
        slug_field="username",
        queryset=User.objects.all(),
        allow_null=True,
        default=None,
        help_text="Username of the account manager.",
    )
    status = serializers.ChoiceField(
        choices=Affiliate.Status.choices, default=Affiliate.Status.ACTIVE
    )
    tracker_params = serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=MAX_TRACKER_PARAMS,
        default=list,
        help_text='The names of the tracker values, in order, e.g. ["affid", "clickId"].',
    )
    # Separator, prefix and suffix are taken as written: whitespace may be part of them.
    tracker_separator = serializers.CharField(max_length=8, trim_whitespace=False, default="-")
    tracker_prefix = serializers.CharField(
        max_length=32, allow_blank=True, trim_whitespace=False, default="trID_"
    )
    tracker_suffix = serializers.CharField(
        max_length=32, allow_blank=True, trim_whitespace=False, default="_trID"
    )
    notes = serializers.CharField(allow_blank=True, max_length=10_000, default="")

    class Meta:
        ref_name = "AffiliateInput"


@extend_schema(tags=["affiliates"])
class AffiliateListCreateApi(APIView):
    permission_classes = [HasManageScope]
    pagination_class = BoundedLimitOffsetPagination

    @extend_schema(
        operation_id="affiliates_list",
        summary="Affiliates, by network id",
        responses={200: AffiliateOutputSerializer(many=True), **error_responses()},
    )
    def get(self, request: Request) -> Response:
        queryset = Affiliate.objects.select_related("account_manager").order_by("network_id")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(AffiliateOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="affiliates_create",
        summary="Create an affiliate",
        request=AffiliateInputSerializer,
        responses={201: AffiliateOutputSerializer, **error_responses(400, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = AffiliateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        affiliate = services.affiliate_create(**serializer.validated_data)
        return Response(AffiliateOutputSerializer(affiliate).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["affiliates"])
class AffiliateDetailApi(APIView):
    permission_classes = [HasManageScope]

    @extend_schema(
        operation_id="affiliates_retrieve",
        summary="An affiliate",
        responses={200: AffiliateOutputSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        affiliate = get_object_or_404(Affiliate.objects.select_related("account_manager"), pk=pk)
        return Response(AffiliateOutputSerializer(affiliate).data)

    @extend_schema(
        operation_id="affiliates_update",
        summary="Replace an affiliate",
        request=AffiliateInputSerializer,
        responses={200: AffiliateOutputSerializer, **error_responses(400, 404, 413, 415)},
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="affiliates_partial_update",
        summary="Change some fields of an affiliate",
        description="Tracker params still used by an endpoint's URL template cannot be removed.",
        request=AffiliateInputSerializer(partial=True),
        responses={200: AffiliateOutputSerializer, **error_responses(400, 404, 413, 415)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    def _update(self, request: Request, pk: int, *, partial: bool) -> Response:
        affiliate = get_object_or_404(Affiliate, pk=pk)
        serializer = AffiliateInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        affiliate = services.affiliate_update(affiliate=affiliate, data=serializer.validated_data)
        return Response(AffiliateOutputSerializer(affiliate).data)

    @extend_schema(
        operation_id="affiliates_destroy",
        summary="Delete an affiliate without conversions (and its endpoints)",
        responses={204: None, **error_responses(400, 404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.affiliate_delete(affiliate=get_object_or_404(Affiliate, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
