"""The mending API (docs/spec.md §10): give an unattributed conversion its affiliate."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import MAX_ID, error_responses
from config.permissions import HasManageScope
from postbacks import mending, selectors
from postbacks.apis import ConversionDetailApi
from postbacks.models import Conversion


@extend_schema(tags=["conversions"])
class ConversionAttributeApi(APIView):
    permission_classes = [HasManageScope]

    class InputSerializer(serializers.Serializer):
        affiliate_id = serializers.IntegerField(
            min_value=1, max_value=MAX_ID, help_text="The affiliate's network id."
        )
        tracker = serializers.CharField(
            max_length=1024,
            required=False,
            allow_blank=True,
            trim_whitespace=False,
            help_text="A corrected tracker; without it the stored one is parsed again.",
        )

        class Meta:
            ref_name = "ConversionAttributeInput"

    @extend_schema(
        operation_id="conversions_attribute",
        summary="Give an unattributed conversion its affiliate",
        description=(
            "The tracker (the corrected one, or the stored one) is parsed again for the "
            "affiliate, the postbacks the conversion calls for are created once and queued, and "
            "the change is kept in the conversion's history. An attributed conversion answers "
            "409 (`code: already_attributed`); of two attributions at the same moment one wins."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                ConversionDetailApi.OutputSerializer,
                description="Attributed: the conversion as GET /conversions/{id}/ shows it.",
            ),
            **error_responses(400, 404, 409, 413, 415),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            mending.conversion_attribute(
                conversion_id=pk,
                affiliate_id=serializer.validated_data["affiliate_id"],
                tracker=serializer.validated_data.get("tracker"),
                user=request.user,
            )
        except Conversion.DoesNotExist as exc:
            raise NotFound("No such conversion.") from exc
        except mending.AlreadyAttributed as exc:
            return Response(
                {"detail": str(exc), "code": "already_attributed"}, status=status.HTTP_409_CONFLICT
            )
        conversion = selectors.conversions_with_deliveries().get(pk=pk)
        return Response(ConversionDetailApi.OutputSerializer(conversion).data)
