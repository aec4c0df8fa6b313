"""Helpers for the admin's custom views, shared by the apps."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest


def object_for_change(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> Any:
    """The object a custom admin view acts on: 404 when it does not exist, 403 when this user
    may not change it (the same rule as its change form)."""
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No such {model_admin.opts.verbose_name}.")
    if not model_admin.has_change_permission(request, obj):
        raise PermissionDenied
    return obj
