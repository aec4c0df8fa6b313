"""The one owner of endpoints' signing secrets: made (and rotated) here, read here for signing.

A rotation keeps the old secret signing for ROTATION_OVERLAP (24 h) beside the new one, so
postbacks in flight and receivers not yet switched still verify; the secret is returned once,
to be shown once, and only its key material is kept (postbacks/signing.py).
"""

import base64
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from postbacks.models import EndpointSecret, PostbackEndpoint
from postbacks.signing import secret_generate, secret_key

ROTATION_OVERLAP = timedelta(hours=24)


def endpoint_secret_rotate(*, endpoint: PostbackEndpoint, now: datetime | None = None) -> str:
    """Make the endpoint a new secret and return it (the only time it is readable); the current
    one stays valid for ROTATION_OVERLAP, and the ones already past it are deleted."""
    now = now or timezone.now()
    secret = secret_generate()
    with transaction.atomic():
        PostbackEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        EndpointSecret.objects.filter(endpoint=endpoint, valid_until__lte=now).delete()
        EndpointSecret.objects.filter(endpoint=endpoint, valid_until__isnull=True).update(
            valid_until=now + ROTATION_OVERLAP
        )
        EndpointSecret.objects.create(
            endpoint=endpoint,
            key=base64.b64encode(secret_key(secret)).decode("ascii"),
            created_at=now,
        )
    return secret


def _valid(now: datetime) -> Q:
    return Q(valid_until__isnull=True) | Q(valid_until__gt=now)


def endpoint_signing_keys(
    *, endpoint_ids: Iterable[int], now: datetime | None = None
) -> dict[int, tuple[bytes, ...]]:
    """The keys each endpoint signs with now, newest first (the current one, then any still in
    its overlap); endpoints without a secret are left out."""
    now = now or timezone.now()
    keys: dict[int, list[bytes]] = {}
    rows = EndpointSecret.objects.filter(_valid(now), endpoint_id__in=list(endpoint_ids))
    for endpoint_id, key in rows.order_by("-created_at", "-id").values_list("endpoint_id", "key"):
        keys.setdefault(endpoint_id, []).append(base64.b64decode(key))
    return {endpoint_id: tuple(found) for endpoint_id, found in keys.items()}


def endpoint_has_secret(*, endpoint: PostbackEndpoint) -> bool:
    return EndpointSecret.objects.filter(_valid(timezone.now()), endpoint=endpoint).exists()


def endpoint_secrets_copy(*, source: PostbackEndpoint, target: PostbackEndpoint) -> None:
    """Give `target` (a new version of `source`, endpoints.endpoint_revise) the secrets `source`
    signs with now, each valid as long: the receiver checks the new version's signatures with
    the secret it already has, and a test of it is signed as the live one's postbacks are."""
    now = timezone.now()
    EndpointSecret.objects.bulk_create(
        EndpointSecret(
            endpoint=target,
            key=secret.key,
            created_at=secret.created_at,
            valid_until=secret.valid_until,
        )
        for secret in EndpointSecret.objects.filter(_valid(now), endpoint=source)
    )
