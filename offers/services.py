"""Writes to offers, validated as the admin validates them (docs/spec.md §2)."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from config.services import delete_or_refuse, fields_apply, unique_save
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
    return unique_save(
        offer,
        field="network_offer_id",
        taken=f"An offer with id {offer.network_offer_id} exists.",
    )


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
    fields_apply(offer, data, allowed=OFFER_FIELDS)
    return _offer_save(offer)


def offer_delete(*, offer: Offer) -> None:
    """Delete an offer and its offer-level endpoints; one with conversions is kept."""
    delete_or_refuse(
        offer,
        refusal=f"Offer {offer.network_offer_id} has conversions or deliveries and cannot be "
        "deleted; deactivate it instead.",
    )
