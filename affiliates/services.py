"""Writes to affiliates: create, update, delete, validated as the admin validates.

Setup requests, invites, offer links and the setup form's rate limit have their own modules
(setup_requests, invites, offer_links, setup_rate_limit)."""

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from affiliates.models import Affiliate
from config.services import delete_or_refuse, fields_apply, unique_save
from postbacks.macros import TemplateError, validate_template
from postbacks.models import PostbackEndpoint

AFFILIATE_FIELDS = (
    "network_id",
    "name",
    "email",
    "account_manager",
    "status",
    "tracker_params",
    "tracker_separator",
    "tracker_prefix",
    "tracker_suffix",
    "notes",
)


def _affiliate_save(affiliate: Affiliate) -> Affiliate:
    """Validate as the admin does (docs/spec.md §2, §3), then save; a network id taken meanwhile is
    a validation error, not a database error."""
    affiliate.full_clean()
    _endpoint_templates_check(affiliate=affiliate)
    return unique_save(
        affiliate,
        field="network_id",
        taken=f"An affiliate with network id {affiliate.network_id} exists.",
    )


def _endpoint_templates_check(*, affiliate: Affiliate) -> None:
    """Tracker params that an endpoint's template still uses cannot be removed: the endpoint
    would stop rendering (the admin refuses it the same way)."""
    if affiliate.pk is None:
        return
    params = affiliate.tracker_params or []
    for endpoint in PostbackEndpoint.objects.filter(affiliate=affiliate).order_by("pk"):
        try:
            validate_template(endpoint.url_template, params)
        except TemplateError as exc:
            raise ValidationError(
                {"tracker_params": f"Postback endpoint #{endpoint.pk} would break: {exc}."}
            ) from exc


def affiliate_create(
    *,
    network_id: int,
    name: str,
    email: str = "",
    account_manager: User | None = None,
    status: str = Affiliate.Status.ACTIVE,
    tracker_params: list[str] | None = None,
    tracker_separator: str = "-",
    tracker_prefix: str = "trID_",
    tracker_suffix: str = "_trID",
    notes: str = "",
) -> Affiliate:
    return _affiliate_save(
        Affiliate(
            network_id=network_id,
            name=name,
            email=email,
            account_manager=account_manager,
            status=status,
            tracker_params=tracker_params or [],
            tracker_separator=tracker_separator,
            tracker_prefix=tracker_prefix,
            tracker_suffix=tracker_suffix,
            notes=notes,
        )
    )


def affiliate_update(*, affiliate: Affiliate, data: Mapping[str, Any]) -> Affiliate:
    """Change the given fields (names from AFFILIATE_FIELDS) and save, validated as on create."""
    fields_apply(affiliate, data, allowed=AFFILIATE_FIELDS)
    return _affiliate_save(affiliate)


def affiliate_delete(*, affiliate: Affiliate) -> None:
    """Delete an affiliate and its endpoints; one with conversions or sent postbacks is kept
    (their history must stay) and should be paused instead."""
    delete_or_refuse(
        affiliate,
        refusal=f"Affiliate {affiliate.network_id} has conversions or deliveries and cannot be "
        "deleted; pause it instead.",
    )
