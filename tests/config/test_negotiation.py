"""The API's content negotiation picks what DRF's own would, for every Accept header (its short
cut only skips the parsing for */* and application/json)."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from config.api_input import JsonNegotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "text/html",
    "application/xml",
    "text/html, application/json;q=0.9",
    "",
]


def request_with(accept: str | None, query: str = "") -> Request:
    request = APIRequestFactory().get(f"/api/v1/conversions/{query}")
    if accept is not None:
        request.META["HTTP_ACCEPT"] = accept
    return Request(request)


def picked(negotiation, request: Request, renderers) -> tuple[str, str] | str:
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except Exception as exc:  # DRF answers 406 (NotAcceptable), or 404 for a bad format
        return type(exc).__name__
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=xml"])
@pytest.mark.parametrize("renderers", [[JSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()]])
def test_the_json_negotiation_picks_what_drf_picks(accept, query, renderers):
    ours = picked(JsonNegotiation(), request_with(accept, query), renderers)
    drf = picked(DefaultContentNegotiation(), request_with(accept, query), renderers)
    assert ours == drf
