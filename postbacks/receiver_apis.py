"""GET /api/v1/receiver-presets/: the trackers the portal has presets for (postbacks/receivers.py),
so a system that sets up endpoints can offer the same choice as the admin and the setup form."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_responses
from config.permissions import HasIngestScope
from postbacks.receivers import PRESETS, ReceiverPreset


class ReceiverPresetOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    url_template = serializers.CharField(
        help_text="The template for a tracker at {domain} (and {key}); {click} is the tracker "
        "param that holds the click id."
    )
    click_macro = serializers.CharField(
        help_text="The tracker's own click-id macro, for the tracker value in offer links."
    )
    status_values = serializers.DictField(child=serializers.CharField())
    fire_on = serializers.ListField(child=serializers.CharField())
    dedupe_key = serializers.CharField()
    needs_key = serializers.BooleanField()
    key_label = serializers.CharField()
    doc_url = serializers.URLField(help_text="The vendor's postback document the preset follows.")
    note = serializers.CharField()

    class Meta:
        ref_name = "ReceiverPreset"


def preset_as_dict(preset: ReceiverPreset) -> dict[str, object]:
    return {
        "code": preset.code,
        "name": preset.name,
        "url_template": f"{preset.scheme}://{{domain}}{preset.path}",
        "click_macro": preset.click_macro,
        "status_values": preset.status_map,
        "fire_on": list(preset.fire_on),
        "dedupe_key": preset.dedupe_key,
        "needs_key": preset.needs_key,
        "key_label": preset.key_label,
        "doc_url": preset.doc_url,
        "note": preset.note,
    }


@extend_schema(tags=["postback endpoints"])
class ReceiverPresetListApi(APIView):
    permission_classes = [HasIngestScope]

    @extend_schema(
        operation_id="receiver_presets_list",
        summary="Receiver presets: how the common trackers want their postbacks",
        responses={200: ReceiverPresetOutputSerializer(many=True), **error_responses()},
    )
    def get(self, request: Request) -> Response:
        return Response(
            ReceiverPresetOutputSerializer([preset_as_dict(p) for p in PRESETS], many=True).data
        )
