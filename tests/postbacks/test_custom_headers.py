"""Custom headers per endpoint (docs/spec.md §11): sent with every postback, kept like secrets (out
of the history, the API and the page once saved), and refused when they would let a value forge
the request (Host, Content-Length, CR/LF)."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from postbacks.headers import HeaderError, headers_parse
from postbacks.models import Delivery, PostbackEndpoint
from postbacks.probes import endpoint_test_fire
from tests.factories import AffiliateFactory, PostbackEndpointFactory


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Host: evil.example", "set by the portal"),
        ("content-length: 0", "set by the portal"),
        ("Transfer-Encoding: chunked", "set by the portal"),
        ("webhook-signature: v1,x", "set by the portal"),
        ("X-Key: a\rInjected: 1", "line break"),
        ("X Key: 1", "not a header name"),
        ("X-Key", "not 'Name: value'"),
        ("X-Key: 1\nx-key: 2", "given twice"),
    ],
)
def test_headers_that_could_forge_the_request_are_refused(text, words):
    with pytest.raises(HeaderError) as caught:
        headers_parse(text)
    assert words in str(caught.value)


@given(st.text(max_size=60))
def test_a_parsed_header_never_holds_a_line_break(text):
    try:
        headers = headers_parse(text)
    except HeaderError:
        return
    assert all("\r" not in v and "\n" not in v for v in headers.values())
    assert all(name.lower() not in ("host", "content-length") for name in headers)


@pytest.mark.django_db
def test_the_model_refuses_a_header_with_a_line_break():
    endpoint = PostbackEndpointFactory(affiliate=AffiliateFactory())
    endpoint.headers = {"X-Key": "1\r\nHost: evil"}
    with pytest.raises(ValidationError) as caught:
        endpoint.full_clean()
    assert "headers" in caught.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_headers_are_sent_and_kept_out_of_history_and_the_page(receiver, admin_client):
    # In testing: on a live endpoint a change of headers is tested first (test_live_edit.py).
    endpoint = PostbackEndpointFactory(
        affiliate=AffiliateFactory(tracker_params=["clickId"]),
        url_template=receiver.base_url + "/pb?tx={transaction_id}",
        status=PostbackEndpoint.Status.TESTING,
    )
    change = f"/admin/postbacks/postbackendpoint/{endpoint.pk}/change/"
    form = {
        "affiliate": endpoint.affiliate.pk,
        "event_types": [e.pk for e in endpoint.event_types.all()],
        "url_template": endpoint.url_template,
        "method": "GET",
        "status": endpoint.status,
        "fire_on": ["approved"],
        "status_values": "{}",
        "headers_text": "X-Api-Key: s3cr3t-value\nX-Other: 2",
    }
    refused = admin_client.post(change, {**form, "headers_text": "Host: evil.example"})
    assert refused.status_code == 200 and b"set by the portal" in refused.content
    saved = admin_client.post(change, form)
    assert saved.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.headers == {"X-Api-Key": "s3cr3t-value", "X-Other": "2"}
    page = admin_client.get(change).content
    assert b"s3cr3t-value" not in page and b"X-Api-Key" in page
    history = admin_client.get(change.replace("/change/", "/history/")).content
    assert b"s3cr3t-value" not in history
    result = endpoint_test_fire(endpoint=endpoint)
    assert result.succeeded
    (request,) = receiver.wait_for(1)
    sent = {name.lower(): value for name, value in request.headers.items()}
    assert sent["x-api-key"] == "s3cr3t-value" and sent["x-other"] == "2"
    assert "s3cr3t-value" not in Delivery.objects.get().url
    # An empty box keeps them; the checkbox removes them.
    admin_client.post(change, {**form, "headers_text": ""})
    endpoint.refresh_from_db()
    assert endpoint.headers["X-Api-Key"] == "s3cr3t-value"
    admin_client.post(change, {**form, "headers_text": "", "clear_headers": "on"})
    endpoint.refresh_from_db()
    assert endpoint.headers == {}
