"""A conversion as the ingest API takes it (docs/spec.md §5): the input serializer, which says
what is wrong with a bad one, and the fast check that runs its fields for a good one."""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import (
    MaxLengthValidator,
    ProhibitNullCharactersValidator,
    RegexValidator,
)
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.validators import ProhibitSurrogateCharactersValidator

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


Check = Callable[[Any], Any]


def _plain_text(field: serializers.CharField) -> Check:
    """The usual case of a CharField, without DRF's machinery (its run_validation was a fifth of
    a batch's Python): a string the field would keep as it is passes its own validators only.
    Anything else (not a string, blank, padded where the field trims, an invisible character)
    goes to the field."""
    max_length = field.max_length
    own = cast(list[Check], [v for v in field.validators if not isinstance(v, _COVERED)])
    if any(getattr(v, "requires_context", False) for v in own):
        # A validator that wants the serializer's context is the field's to run.
        return field.run_validation

    def check(value: Any) -> Any:
        if (
            type(value) is not str
            or not value.isprintable()
            or (max_length is not None and len(value) > max_length)
            or not value.strip()
            or (field.trim_whitespace and value != value.strip())
        ):
            return field.run_validation(value)
        for validator in own:
            validator(value)
        return value

    return check


# Validators a CharField gets that the plain check covers (a printable string holds no NUL and
# no lone surrogate; its length is checked); the field's own ones still run.
_COVERED = (
    MaxLengthValidator,
    ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)


def _plain_integer(field: serializers.IntegerField) -> Check:
    low, high = field.min_value, field.max_value

    def check(value: Any) -> Any:
        # bool is an int subclass the field refuses: only exact ints are vouched for.
        if (
            type(value) is not int
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            return field.run_validation(value)
        return value

    return check


def _plain_choice(field: serializers.ChoiceField) -> Check:
    choices = {str(key): key for key in field.choices}

    def check(value: Any) -> Any:
        if type(value) is not str or value not in choices:
            return field.run_validation(value)
        return choices[value]

    return check


def _field_check(field: serializers.Field) -> Check:
    """How conversion_input_validate runs one field: a plain check for the usual strings,
    integers and choices (which hands any other value to the field), the field itself for the
    rest (amounts, times)."""
    if isinstance(field, serializers.ChoiceField):
        return _plain_choice(field)
    if isinstance(field, serializers.CharField):
        return _plain_text(field)
    if isinstance(field, serializers.IntegerField):
        return _plain_integer(field)
    return field.run_validation


_FIELD_CHECKS = {name: _field_check(field) for name, field in _INPUT_FIELDS}


def conversion_input_validate(data: Any) -> dict[str, Any] | None:
    """What ConversionInputSerializer(data=data).validated_data holds when the input is valid,
    by running the serializer's own fields on it (or, for the usual strings, integers and
    choices, plain checks that vouch for what the field would keep); None when anything is
    wrong, for the serializer to say what (in its own words: errors come only from the
    serializer)."""
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
            value = _FIELD_CHECKS[name](value)
            check = _INPUT_CHECKS.get(name)
            if check is not None:
                value = check(value)
        except (serializers.ValidationError, DjangoValidationError):
            return None
        validated[name] = value
    return validated
