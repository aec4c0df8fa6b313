"""A conversion as the ingest API takes it (docs/spec.md §5): the input serializer, which says
what is wrong with a bad one, and the fast check that runs its fields for a good one."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import empty

from config.api import MAX_ID
from offers.currencies import validate_currency
from postbacks import lifecycle
from postbacks.macros import unprintable_index


def _visible(value: str) -> None:
    index = unprintable_index(value)
    if index is not None:
        raise serializers.ValidationError(
            f"The transaction id contains an invisible or control character at character {index} "
            f"(U+{ord(value[index - 1]):04X}); send the id without it."
        )


class ConversionInputSerializer(serializers.Serializer):
    """One conversion event as the network reports it. Optional fields may be null (= absent)."""

    transaction_id = serializers.CharField(
        max_length=128,
        # The network's id is stored exactly as sent: trimming could merge two ids.
        trim_whitespace=False,
        validators=[RegexValidator(r"\S", "The transaction id cannot be blank."), _visible],
    )
    event = serializers.CharField(max_length=32, help_text="An active event type code.")
    offer_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The offer's id on the network."
    )
    tracker = serializers.CharField(
        max_length=1024,
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        help_text="The raw tracker as received on the click.",
    )
    affiliate_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="The affiliate's network id, where the link carried it outside the tracker.",
    )
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        min_value=Decimal(0),
        error_messages={
            "min_value": "The amount cannot be negative: send the commission earned (0 or more)."
        },
        required=False,
        allow_null=True,
        help_text='The affiliate\'s commission for this event, e.g. "35.00"; never negative.',
    )
    currency = serializers.CharField(
        required=False,
        allow_null=True,
        validators=[validate_currency],
        help_text="ISO 4217; default: the offer's.",
    )
    occurred_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="ISO 8601; without an offset it is UTC. Default: now. At most "
        "INGEST_OCCURRED_AT_MAX_AGE_DAYS in the past, INGEST_OCCURRED_AT_MAX_AHEAD_HOURS ahead.",
    )
    status = serializers.ChoiceField(
        choices=lifecycle.INGEST_STATUSES,
        required=False,
        allow_null=True,
        help_text="pending (the network still checks the sale) or approved. Default: approved. "
        "Later changes go through POST /conversions/status/.",
    )

    def validate_occurred_at(self, value: datetime | None) -> datetime | None:
        return _occurred_at_in_bounds(value)


def _occurred_at_in_bounds(value: datetime | None) -> datetime | None:
    if value is None:
        return value
    now = timezone.now()
    oldest = now - timedelta(days=settings.INGEST_OCCURRED_AT_MAX_AGE_DAYS)
    latest = now + timedelta(hours=settings.INGEST_OCCURRED_AT_MAX_AHEAD_HOURS)
    if not oldest <= value <= latest:
        raise serializers.ValidationError(
            f"The time must lie between {oldest:%Y-%m-%d %H:%M} and {latest:%Y-%m-%d %H:%M} "
            "UTC; check the clock or the date's format."
        )
    return value


# The input serializer's own fields, unbound, and its one field-level check: a serializer
# instance deep-copies and binds every field (about a third of what validating one conversion
# costs), and ingest validates one conversion per request, or a thousand per batch.
_INPUT_FIELDS = tuple(ConversionInputSerializer._declared_fields.items())
_INPUT_CHECKS = {"occurred_at": _occurred_at_in_bounds}


def conversion_input_validate(data: Any) -> dict[str, Any] | None:
    """What ConversionInputSerializer(data=data).validated_data holds when the input is valid,
    by running the serializer's own fields on it; None when anything is wrong, for the serializer
    to say what (in its own words: errors come only from the serializer)."""
    if not isinstance(data, Mapping):
        return None
    validated: dict[str, Any] = {}
    for name, field in _INPUT_FIELDS:
        value = data.get(name, empty)
        if value is empty:
            if field.required:
                return None
            continue
        try:
            value = field.run_validation(value)
            check = _INPUT_CHECKS.get(name)
            if check is not None:
                value = check(value)
        except (serializers.ValidationError, DjangoValidationError):
            return None
        validated[name] = value
    return validated
