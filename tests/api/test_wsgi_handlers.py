"""config.wsgi serves token API requests through the short API_TOKEN_MIDDLEWARE and every other
request through the whole MIDDLEWARE; a token request must be answered as it was before."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.utils import translation

from config import wsgi
from tests.api.conftest import CONVERSIONS_URL

pytestmark = pytest.mark.django_db(transaction=True)


def _call(path: str, *, method: str = "GET", body: bytes = b"", **headers: str):
    environ: dict = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "SERVER_NAME": "localhost",
        "HTTP_HOST": "localhost",
        "wsgi.input": io.BytesIO(body),
        **headers,
    }
    setup_testing_defaults(environ)
    answer: dict = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    answer["body"] = b"".join(wsgi.application(environ, start_response))
    return answer


def _middleware_names(handler) -> set[str]:
    chain = [*handler._view_middleware, *handler._exception_middleware]
    return {type(method.__self__).__name__ for method in chain}


def test_token_requests_skip_what_only_browsers_need():
    assert "CsrfViewMiddleware" in _middleware_names(wsgi.portal)
    assert "CsrfViewMiddleware" not in _middleware_names(wsgi.api)
    assert wsgi.carries_token(
        {"PATH_INFO": "/api/v1/conversions/", "HTTP_AUTHORIZATION": "token x"}
    )
    assert not wsgi.carries_token({"PATH_INFO": "/api/v1/conversions/"})
    assert not wsgi.carries_token({"PATH_INFO": "/admin/", "HTTP_AUTHORIZATION": "Token x"})
    assert not wsgi.carries_token({"PATH_INFO": "/api/v1/", "HTTP_AUTHORIZATION": "Basic eA=="})


def test_a_token_ingest_through_the_short_chain_is_stored_with_the_portal_headers(
    world, ingest_token
):
    body = json.dumps(world.payload(transaction_id="wsgi-1")).encode()

    answer = _call(
        CONVERSIONS_URL, method="POST", body=body, HTTP_AUTHORIZATION=f"Token {ingest_token}"
    )

    assert answer["status"] == 202, answer["body"]
    assert json.loads(answer["body"])["transaction_id"] == "wsgi-1"
    headers = answer["headers"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "default-src" in headers["Content-Security-Policy"]
    assert "Set-Cookie" not in headers


def test_the_api_answers_in_english_on_a_thread_that_last_spoke_french(ingest_token):
    translation.activate("fr")
    try:
        answer = _call(
            CONVERSIONS_URL, method="POST", body=b"{}", HTTP_AUTHORIZATION=f"Token {ingest_token}"
        )
    finally:
        translation.deactivate()

    assert answer["status"] == 400
    assert json.loads(answer["body"])["transaction_id"] == ["This field is required."]


def test_a_bad_token_is_refused_as_before():
    answer = _call(CONVERSIONS_URL, method="POST", body=b"{}", HTTP_AUTHORIZATION="Token nope")

    assert answer["status"] == 401
    assert json.loads(answer["body"])["detail"] == "Invalid token."
