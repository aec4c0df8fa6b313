"""The tracker picker's server side (docs/spec.md §11): the preset view both forms call, the choice
kept on the setup request and given to the approved endpoint, and the dedupe warning beside the
previews."""

import pytest
from django.urls import reverse

from affiliates.models import SetupRequest
from affiliates.setup_requests import setup_request_approve
from postbacks.models import EventType
from tests.factories import AffiliateFactory, SetupRequestFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/setup/receiver-preset/"
TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_2345678_aff9-c0ffee_trID"


def test_the_preset_view_fills_in_a_template_and_status_map(client):
    response = client.get(
        URL,
        {
            "preset": "keitaro",
            "domain": "https://t.example.com",
            "key": "k3y",
            "click_param": "cid",
        },
    )
    assert response.status_code == 200
    data = response.json()
    assert data["url_template"] == (
        "https://t.example.com/k3y/postback?subid={cid}&status={status}&payout={amount}"
        "&tid={transaction_id}-{event}&currency={currency}"
    )
    assert data["status_values"]["pending"] == "lead"
    assert data["click_macro"] == "{subid}"
    assert data["doc_url"].startswith("https://docs.keitaro.io/")


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"preset": "binom", "domain": "t.example.com/click.php"}, "domain", "without a path"),
        ({"preset": "binom", "domain": "gopher://t.example.com"}, "domain", "not gopher://"),
        ({"preset": "binom", "domain": "192.168.0.1"}, "domain", "private"),
        ({"preset": "keitaro", "domain": "t.example.com", "key": "a b"}, "key", "space"),
        ({"preset": "nope", "domain": "t.example.com"}, "preset", "unknown tracker"),
    ],
)
def test_the_preset_view_refuses_bad_input_naming_it(client, query, field, words):
    response = client.get(URL, query)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert words in response.json()["error"]


def test_approval_gives_the_endpoint_the_picked_trackers_statuses():
    request = SetupRequestFactory.create(
        network_id=2345678,
        url_template="https://b.example.com/click.php?cnv_id={clickId}&cnv_status={status}",
        tracker_params=["affid", "clickId"],
        test_link=TEST_LINK,
        receiver_preset="bemob",
    )
    endpoint = setup_request_approve(setup_request=request, reviewer=UserFactory.create())
    assert endpoint.fire_on == ["pending", "approved", "rejected", "reversed"]
    assert endpoint.status_values == {
        "pending": "pending",
        "approved": "approved",
        "rejected": "declined",
        "reversed": "declined",
    }


def test_the_setup_preview_warns_of_transaction_id_alone_to_two_events(client):
    base = {
        "network_id": "2345678",
        "contact_email": "jane@tracker.example",
        "offer_links": TEST_LINK,
        "events": SetupRequest.Events.BOTH,
        "method": "GET",
        "tracker_separator": "-",
        "param_name_0": "affid",
        "param_name_1": "clickId",
        "test_link": TEST_LINK,
    }
    alone = client.post(
        reverse("setup:preview"),
        {**base, "url_template": "https://t.example/pb?c={clickId}&tx={transaction_id}"},
    ).json()
    assert alone["ok"] and "{postback_id}" in alone["warning"]
    safe = client.post(
        reverse("setup:preview"),
        {**base, "url_template": "https://t.example/pb?c={clickId}&tx={postback_id}"},
    ).json()
    assert safe["ok"] and safe["warning"] == ""


def test_the_endpoint_page_offers_the_presets_and_warns_on_save(admin_client):
    affiliate = AffiliateFactory.create(tracker_params=["affid", "clickId"])
    page = admin_client.get(reverse("admin:postbacks_postbackendpoint_add"))
    assert b'id="receiver-preset"' in page.content and b"Prosper202" in page.content
    events = EventType.objects.filter(code__in=["signup", "trial"])
    response = admin_client.post(
        reverse("admin:postbacks_postbackendpoint_add"),
        {
            "affiliate": affiliate.pk,
            "event_types": [e.pk for e in events],
            "url_template": "https://t.example/pb?c={clickId}&tx={transaction_id}",
            "method": "GET",
            "status": "draft",
            "fire_on": ["approved"],
            "status_values": "{}",
        },
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert any("{transaction_id}-{event}" in m for m in shown), shown
    preview = admin_client.post(
        reverse("admin:postbacks_postbackendpoint_preview"),
        {
            "affiliate": affiliate.pk,
            "event_types": [e.pk for e in events],
            "url_template": "https://t.example/pb?c={clickId}&tx={transaction_id}",
        },
    ).json()
    assert "{postback_id}" in preview["warning"]


@pytest.mark.parametrize(
    ("domain", "french"),
    [
        ("track.example.com/pb", "indiquez le domaine seul"),
        ("10.0.0.1", "est une adresse privée ou réservée"),
        ("", "indiquez le domaine de votre tracker"),
    ],
)
def test_a_preset_refusal_speaks_the_affiliates_language(client, domain: str, french: str) -> None:
    response = client.get(
        URL, {"preset": "voluum", "domain": domain}, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9"
    )
    assert response.status_code == 400
    assert french in response.json()["error"]
