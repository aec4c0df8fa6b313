"""The admin login lockout (django-axes; settings in config/settings/base.py): the client address
axes counts failed logins by, and the page a locked-out login gets."""

import ipaddress
import math
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.client_address import client_address


def client_ip(request: HttpRequest) -> str | None:
    """The address the setup form counts by too (SETUP_CLIENT_IP_HEADER behind a proxy, else
    REMOTE_ADDR), or None when that is no IP address: axes keeps it in an IP address column."""
    try:
        return str(ipaddress.ip_address(client_address(request)))
    except ValueError:
        return None


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The admin's lockout page, with Retry-After: the whole cool-off, as every further try
    starts it again."""
    cool_off = get_cool_off(request) or settings.AXES_COOLOFF_TIME
    seconds = int(cool_off.total_seconds())
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed logins",
        "minutes": max(1, math.ceil(seconds / 60)),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    response = render(
        request, "admin/lockout.html", context, status=settings.AXES_HTTP_RESPONSE_CODE
    )
    response["Retry-After"] = str(seconds)
    return response
