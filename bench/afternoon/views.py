import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bench.afternoon.models import Conversion


@csrf_exempt
@require_POST
def conversions(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body)
    conversion, created = Conversion.objects.get_or_create(
        transaction_id=data["transaction_id"],
        defaults={"event": data.get("event", ""), "payload": data},
    )
    return JsonResponse({"id": conversion.pk}, status=202 if created else 200)
