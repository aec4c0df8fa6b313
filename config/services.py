"""Write helpers shared by the apps' services: validated saves, partial updates, deletes that
keep history. Each keeps the rule that the admin and the API report the same errors."""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError

M = TypeVar("M", bound=models.Model)


def fields_apply(
    instance: models.Model, data: Mapping[str, Any], *, allowed: Iterable[str]
) -> None:
    """Set the given fields; a name outside `allowed` is a programming error."""
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValueError(f"not {instance._meta.model_name} fields: {sorted(unknown)}")
    for name, value in data.items():
        setattr(instance, name, value)


def unique_save(instance: M, *, field: str, taken: str) -> M:
    """Save a validated instance; the unique `field` taken meanwhile by another writer is a
    validation error (message `taken`), not a database error."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        model = type(instance)
        twins = model._default_manager.filter(**{field: getattr(instance, field)})
        if twins.exclude(pk=instance.pk).exists():
            raise ValidationError({field: taken}) from exc
        raise
    return instance


def delete_or_refuse(instance: models.Model, *, refusal: str) -> None:
    """Delete, unless records that must stay (conversions, deliveries) protect the row."""
    try:
        with transaction.atomic():
            instance.delete()
    except ProtectedError as exc:
        raise ValidationError(refusal) from exc
