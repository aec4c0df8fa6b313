"""Writes to offers, validated as the admin validates them (SPEC §2)."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from offers.models import Offer

OFFER_FIELDS = (
    "network_offer_id",
    "name",
    "kind",
    "vertical",
    "landing_url",
    "payout",
    "currency",
    "revshare_percent",
    "is_active",
)


def _offer_save(offer: Offer) -> Offer:
    offer.full_clean()
    try:
        with transaction.atomic():
            offer.save()
    except IntegrityError as exc:
        # Only the unique network offer id can fail after full_clean: taken meanwhile.
        if (
            Offer.objects.filter(network_offer_id=offer.network_offer_id)
            .exclude(pk=offer.pk)
            .exists()
        ):
            raise ValidationError(
                {"network_offer_id": f"An offer with id {offer.network_offer_id} exists."}
            ) from exc
        raise
    return offer


def offer_create(
    *,
    network_offer_id: int,
    name: str,
    kind: str,
    landing_url: str,
    vertical: str = "",
    payout: Decimal | None = None,
    currency: str = "USD",
    revshare_percent: Decimal | None = None,
    is_active: bool = True,
) -> Offer:
    return _offer_save(
        Offer(
            network_offer_id=network_offer_id,
            name=name,
            kind=kind,
            vertical=vertical,
            landing_url=landing_url,
            payout=payout,
            currency=currency,
            revshare_percent=revshare_percent,
            is_active=is_active,
        )
    )


def offer_update(*, offer: Offer, data: Mapping[str, Any]) -> Offer:
    """Change the given fields (names from OFFER_FIELDS) and save, validated as on create."""
    unknown = set(data) - set(OFFER_FIELDS)
    if unknown:
        raise ValueError(f"not offer fields: {sorted(unknown)}")
    for name, value in data.items():
        setattr(offer, name, value)
    return _offer_save(offer)


def offer_delete(*, offer: Offer) -> None:
    """Delete an offer and its offer-level endpoints; one with conversions is kept."""
    try:
        with transaction.atomic():
            offer.delete()
    except ProtectedError as exc:
        raise ValidationError(
            f"Offer {offer.network_offer_id} has conversions or deliveries and cannot be "
            "deleted; deactivate it instead."
        ) from exc
