"""The public setup form (docs/spec.md §7): every validation error, the preview, filing, abuse
limits."""

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from affiliates.models import SetupRequest
from affiliates.selectors import setup_request_reference
from tests.factories import AffiliateFactory, OfferFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/setup/"


def form_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "network_id": "1234567",
        "contact_email": "jane@tracker.example",
        "offer_links": "https://offers.example/go?id=66013;tracker=trID_1234567_#affid#_trID",
        "events": "conversions",
        "url_template": "https://track.example/pb?cid={clickId}&tx={transaction_id}&s={amount}",
        "method": "GET",
        "param_name_0": "affid",
        "param_meaning_0": "our affiliate id",
        "param_name_1": "TransID",
        "param_name_2": "clickId",
        "param_meaning_2": "the click, a UUID",
        "tracker_separator": "-",
        "test_link": "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID",
        "questions": "",
        "submit": "1",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def errors_of(response: Any) -> dict[str, list[str]]:
    form = response.context["form"]
    errors = {field: [str(m) for m in messages] for field, messages in form.errors.items()}
    if form.params_errors:
        errors["tracker_params"] = list(form.params_errors)
    return errors


def test_the_form_shows_every_field_of_spec_7(client):
    body = client.get(URL).content.decode()
    for name in (
        "network_id",
        "offer_links",
        "events",
        "event_codes",
        "url_template",
        "method",
        "param_name_0",
        "param_meaning_0",
        "tracker_separator",
        "test_link",
        "contact_email",
        "questions",
    ):
        assert f'name="{name}"' in body, name
    assert "csrfmiddlewaretoken" in body


def test_submitting_files_a_request_and_confirms_with_a_reference(client):
    response = client.post(URL, form_data(), REMOTE_ADDR="198.51.100.7", follow=True)
    request = SetupRequest.objects.get()
    assert request.network_id == 1234567
    assert request.tracker_params == ["affid", "TransID", "clickId"]
    assert request.tracker_param_descriptions == {
        "affid": "our affiliate id",
        "clickId": "the click, a UUID",
    }
    assert request.client_ip == "198.51.100.7"
    assert request.verified is False
    assert request.status == SetupRequest.Status.NEW
    reference = setup_request_reference(setup_request=request)
    assert reference in response.content.decode()
    assert reference.startswith("SR-")


def test_the_account_manager_gets_an_email(client):
    manager = UserFactory.create(email="am@network.example")
    AffiliateFactory.create(network_id=1234567, account_manager=manager)
    client.post(URL, form_data())
    (message,) = mail.outbox
    assert message.to == ["am@network.example"]
    request = SetupRequest.objects.get()
    assert setup_request_reference(setup_request=request) in message.subject
    assert reverse("admin:affiliates_setuprequest_change", args=[request.pk]) in message.body


def test_without_an_account_manager_the_fallback_address_gets_the_email(client, settings):
    settings.SETUP_NOTIFY_EMAIL = ["postbacks-team@network.example"]
    client.post(URL, form_data())
    (message,) = mail.outbox
    assert message.to == ["postbacks-team@network.example"]


def test_preview_shows_the_url_for_the_test_link_per_event_and_files_nothing(client):
    OfferFactory.create(network_offer_id=66013, payout="35.00")
    response = client.post(URL, form_data(events="both", submit=None, preview="1"))
    assert response.status_code == 200
    rows = {row.event: row for row in response.context["preview"]}
    assert set(rows) == {"signup", "freereg"}
    assert rows["signup"].url == "https://track.example/pb?cid=c0ffee&tx=TEST-TX-1&s=35.00"
    assert "https://track.example/pb?cid=c0ffee&amp;tx=TEST-TX-1" in response.content.decode()
    assert not SetupRequest.objects.exists()


def test_the_json_preview_renders_the_same_urls(client):
    response = client.post(
        reverse("setup:preview"), form_data(events="chosen", event_codes=["trial"])
    )
    answer = response.json()
    assert answer["ok"] is True
    (row,) = answer["preview"]
    assert row["event"] == "trial"
    assert row["url"].startswith("https://track.example/pb?cid=c0ffee&tx=TEST-TX-1")


def test_the_json_preview_reports_errors(client):
    response = client.post(
        reverse("setup:preview"), form_data(url_template="https://x.example/{nope}")
    )
    answer = response.json()
    assert answer["ok"] is False
    assert "unknown macro {nope}" in answer["errors"]["url_template"][0]


def test_the_json_preview_is_csrf_protected():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(reverse("setup:preview"), form_data())
    assert response.status_code == 403


def test_the_form_refuses_a_post_without_a_csrf_token():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(URL, form_data())
    assert response.status_code == 403
    assert not SetupRequest.objects.exists()


# ------------------------------------------------------------------------------
# Every validation error, in words an affiliate understands
# ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        (
            {"url_template": "https://track.example/pb?cid={clickid}"},
            "url_template",
            "unknown macro {clickid} (did you mean {clickId}?)",
        ),
        ({"url_template": "/pb?cid={clickId}"}, "url_template", "must be absolute"),
        ({"url_template": "ftp://track.example/{clickId}"}, "url_template", "http:// or https://"),
        ({"param_name_1": "Trans ID"}, "tracker_params", "'Trans ID' is not a valid param name"),
        ({"param_name_1": "affid"}, "tracker_params", "The param 'affid' is listed twice"),
        ({"param_name_1": "p2"}, "tracker_params", "reserved for positional macros"),
        (
            {"param_name_0": "", "param_name_1": "", "param_name_2": "", "param_meaning_0": ""},
            "tracker_params",
            "List at least one param",
        ),
        (
            {"param_name_3": "", "param_meaning_3": "the sub id"},
            "tracker_params",
            "Row 4 explains 'the sub id' but has no param name",
        ),
        (
            {"test_link": "https://offers.example/go?id=66013"},
            "test_link",
            "The test link holds no tracker",
        ),
        (
            {"test_link": "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77"},
            "test_link",
            "never ends with _trID",
        ),
        (
            {"test_link": "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77_trID"},
            "test_link",
            "has 2 value(s) ('aff9', 'tx77')",
        ),
        (
            {"test_link": "https://o.example/go?id=66013;tracker=trID_1234567_aff9.tx77.c0_trID"},
            "test_link",
            "you listed 3 params",
        ),
        (
            {"test_link": "https://offers.example/go?id=66013;tracker=trID_7654321_a-b-c_trID"},
            "test_link",
            "starts with 7654321, not your network id 1234567",
        ),
        (
            {"test_link": "https://offers.example/go?id=66013;tracker=trID_a-b-c_trID"},
            "test_link",
            "must start with your network id: trID_1234567_",
        ),
        (
            {"test_link": "https://o.example/go?id=66013;tracker=trID_1234567_#affid#-b-c_trID"},
            "test_link",
            "still holds the placeholder #affid#",
        ),
        ({"test_link": ""}, "test_link", "This field is required"),
        ({"contact_email": "jane at tracker"}, "contact_email", "Enter an e-mail address"),
        ({"network_id": "abc"}, "network_id", "Enter your network id as a number"),
        ({"network_id": "0"}, "network_id", "greater than or equal to 1"),
        ({"events": "chosen"}, "event_codes", "Choose at least one event"),
        ({"events": "chosen", "event_codes": ["bogus"]}, "event_codes", "Select a valid choice"),
        ({"events": "sometimes"}, "events", "Select a valid choice"),
        ({"method": "PUT"}, "method", "Select a valid choice"),
        ({"tracker_separator": "%"}, "tracker_separator", "contains '%'"),
        ({"offer_links": ""}, "offer_links", "This field is required"),
        ({"offer_links": "x" * 4001}, "offer_links", "at most 4000 characters"),
        ({"questions": "q" * 4001}, "questions", "at most 4000 characters"),
        ({"url_template": "https://t.example/" + "a" * 2048}, "url_template", "at most 2048"),
        ({"test_link": "https://t.example/" + "a" * 2048}, "test_link", "at most 2048"),
        ({"param_meaning_0": "m" * 201}, "param_meaning_0", "at most 200 characters"),
        ({"param_name_0": "n" * 65}, "param_name_0", "at most 64 characters"),
        ({"tracker_separator": "--------+"}, "tracker_separator", "at most 8 characters"),
        ({"contact_email": "a" * 250 + "@x.example"}, "contact_email", "at most 254"),
    ],
)
def test_each_mistake_is_refused_with_a_clear_message(client, overrides, field, expected):
    response = client.post(URL, form_data(**overrides))
    assert response.status_code == 200
    errors = errors_of(response)
    assert field in errors, errors
    assert any(expected in message for message in errors[field]), errors[field]
    assert "Please correct the marked fields" in response.content.decode()
    assert not SetupRequest.objects.exists()


def test_a_revshare_test_link_may_leave_the_network_id_out(client):
    link = "https://offers.example/go?id=1234567;tracker=trID_aff9-tx77-c0ffee_trID"
    client.post(URL, form_data(test_link=link))
    assert SetupRequest.objects.get().test_link == link


def test_a_uuid_click_id_survives_in_the_last_param(client):
    link = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-0b7e-4c1d-9a2f_trID"
    response = client.post(URL, form_data(test_link=link, submit=None, preview="1"))
    (row,) = response.context["preview"]
    assert "cid=0b7e-4c1d-9a2f" in row.url


def test_an_existing_affiliates_prefix_and_suffix_are_used(client):
    AffiliateFactory.create(network_id=1234567, tracker_prefix="T[", tracker_suffix="]T")
    good = "https://offers.example/go?id=66013;tracker=T[1234567_aff9-tx77-c0ffee]T"
    response = client.post(URL, form_data(test_link=good, submit=None, preview="1"))
    assert response.context["preview"][0].url.startswith("https://track.example/pb?cid=c0ffee")
    response = client.post(URL, form_data())
    assert "holds no tracker: it should contain T[...]T" in errors_of(response)["test_link"][0]


# ------------------------------------------------------------------------------
# Abuse protection
# ------------------------------------------------------------------------------
def test_the_sixth_submission_from_one_address_is_refused_with_429(client):
    for number in range(5):
        response = client.post(URL, form_data(), REMOTE_ADDR="203.0.113.9")
        assert response.status_code == 302, number
    response = client.post(URL, form_data(), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    assert "too many requests from your address" in response.content.decode()
    assert SetupRequest.objects.count() == 5
    other = client.post(URL, form_data(), REMOTE_ADDR="203.0.113.10")
    assert other.status_code == 302


def test_previews_are_limited_per_address_too(client, settings):
    settings.SETUP_RATE_LIMIT = {"submit": 5, "preview": 3}
    for _ in range(3):
        assert client.post(reverse("setup:preview"), form_data()).status_code == 200
    response = client.post(reverse("setup:preview"), form_data())
    assert response.status_code == 429
    assert "too many requests" in response.json()["error"]


def redis_away(settings: Any) -> None:
    settings.RQ_QUEUES = {
        **settings.RQ_QUEUES,
        "postbacks": {"URL": "redis://127.0.0.1:1/0", "DEFAULT_TIMEOUT": 300},
    }


def test_while_redis_is_away_the_form_refuses_posts_rather_than_not_counting_them(client, settings):
    redis_away(settings)
    assert client.get(URL).status_code == 200
    response = client.post(URL, form_data(), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "try again in a few minutes" in response.content.decode()
    assert not SetupRequest.objects.exists()
    assert mail.outbox == []
    preview = client.post(reverse("setup:preview"), form_data())
    assert preview.status_code == 503
    assert "try again in a few minutes" in preview.json()["error"]


def test_a_filled_honeypot_gets_a_fake_confirmation_and_stores_nothing(client):
    response = client.post(URL, form_data(website="http://spam.example"), follow=True)
    assert response.status_code == 200
    assert "your request is in" in response.content.decode()
    assert not SetupRequest.objects.exists()
    assert mail.outbox == []


def test_a_bots_fake_reference_is_the_one_a_real_request_would_get(client):
    first = client.post(URL, form_data(), follow=True).context["reference"]
    fake = client.post(URL, form_data(website="http://spam.example"), follow=True)
    after = client.post(URL, form_data(), follow=True).context["reference"]
    number = int(first.removeprefix("SR-"))
    assert fake.context["reference"] == f"SR-{number + 1:06d}"
    assert after == f"SR-{number + 2:06d}"
    assert SetupRequest.objects.count() == 2


def test_a_bot_past_the_submission_limit_is_refused_like_a_person(client):
    for number in range(5):
        response = client.post(URL, form_data(website="http://spam.example"))
        assert response.status_code == 302, number
    response = client.post(URL, form_data(website="http://spam.example"))
    assert response.status_code == 429
    assert not SetupRequest.objects.exists()


def test_a_body_over_the_limit_is_refused_with_413(client, settings):
    settings.SETUP_MAX_BODY_BYTES = 1024
    response = client.post(URL, form_data(questions="q" * 2000))
    assert response.status_code == 413
    assert not SetupRequest.objects.exists()


def test_the_confirmation_page_cannot_be_forged(client):
    response = client.get(reverse("setup:done", kwargs={"signed": "SR-000001"}))
    assert response.status_code == 302
    assert response["Location"] == URL


def test_the_preview_reads_the_test_link_and_the_events_once_whatever_their_number(
    django_assert_num_queries: Any,
) -> None:
    from affiliates.selectors import setup_preview_rows

    OfferFactory(network_offer_id=66013)
    data = form_data()
    kwargs: dict[str, Any] = {
        "network_id": 1234567,
        "url_template": data["url_template"],
        "tracker_params": ["affid", "TransID", "clickId"],
        "tracker_separator": "-",
        "test_link": data["test_link"],
    }
    # The affiliate, the events, the offer of the link: three queries for one event or for three.
    with django_assert_num_queries(3):
        (one,) = setup_preview_rows(event_codes=["signup"], **kwargs)
    with django_assert_num_queries(3):
        rows = setup_preview_rows(event_codes=["signup", "freereg", "nope"], **kwargs)
    assert "cid=c0ffee" in one.url and "tx=TEST-TX-1" in one.url
    assert [(row.event, bool(row.url), row.error) for row in rows[:2]] == [
        ("signup", True, ""),
        ("freereg", True, ""),
    ]
    assert rows[2].error == "unknown event 'nope'"
