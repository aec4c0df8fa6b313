"""WSGI entry point for gunicorn (`gunicorn config.wsgi`).

Two Django handlers share the process: API requests that carry a token go through the short
middleware list API_TOKEN_MIDDLEWARE (an ingest request is mostly the token, a few statements
and the answer; sessions, CSRF, messages and the lockout were a tenth of it); everything else,
the API called from a signed-in browser included, through the whole MIDDLEWARE."""

import os
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

API_PREFIX = "/api/v1/"


class TokenApiHandler(WSGIHandler):
    """Django's handler with API_TOKEN_MIDDLEWARE for its middleware."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE; this runs once, at import, before
        # the process serves anything.
        portal = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_TOKEN_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = portal


def carries_token(environ: dict[str, Any]) -> bool:
    """An API request with a token (DRF's keyword is matched without regard to case)."""
    return (
        environ.get("PATH_INFO", "").startswith(API_PREFIX)
        and environ.get("HTTP_AUTHORIZATION", "")[:6].lower() == "token "
    )


portal = get_wsgi_application()
api = TokenApiHandler()


def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    handler = api if carries_token(environ) else portal
    return handler(environ, start_response)
