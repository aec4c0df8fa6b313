"""Receiver presets: each renders, for every event and status, the URL its vendor's postback
document asks for; bad domains and keys are refused with a message naming the input."""

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postbacks import lifecycle
from postbacks.macros import macro_values, network_values, render_url, validate_template
from postbacks.receivers import (
    PRESETS,
    PresetError,
    dedupe_warning,
    preset_get,
    preset_render,
)

PARAMS = ["affid", "TransID", "clickId"]
TRACKER = {"affid": "aff9", "TransID": "tx77", "clickId": "c0ffee-1"}
EVENTS = ("freereg", "trial", "signup", "rebill")
ENDPOINT_ID = 7


def _conversion_id(event: str) -> int:
    """Each event of a sale is a conversion of its own (unique on transaction id and event)."""
    return 40 + EVENTS.index(event)


def _render(code: str, event: str, status: str, key: str = "k3y") -> tuple[str, dict[str, str]]:
    preset = preset_get(code)
    rendered = preset_render(preset, "track.example.com", key)
    validate_template(rendered.url_template, PARAMS)
    network = network_values(
        transaction_id="TX-9",
        conversion_id=_conversion_id(event),
        event=event,
        event_name=event.title(),
        offer_id=66013,
        offer_name="Cams",
        offer_kind="pps",
        affiliate_id=1234567,
        amount=Decimal("35"),
        currency="USD",
        occurred_at=datetime(2025, 1, 31, 12, tzinfo=UTC),
        status=status,
        status_values=rendered.status_values,
        reason="",
        postback_id=lifecycle.postback_id(
            conversion_id=_conversion_id(event), endpoint_id=ENDPOINT_ID, status=status
        ),
    )
    url = render_url(
        rendered.url_template,
        macro_values(network=network, tracker=TRACKER, tracker_params=PARAMS),
    )
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "track.example.com"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert all(len(values) == 1 for values in parse_qs(parts.query).values())
    return parts.path, query


def _pid(event: str, status: str) -> str:
    return f"{_conversion_id(event)}-{ENDPOINT_ID}-{status}"


SIGNED = {"pending": "35.00", "approved": "35.00", "rejected": "-35.00", "reversed": "-35.00"}


def _expected(code: str, event: str, status: str) -> tuple[str, dict[str, str]]:
    if code == "voluum":
        return "/postback", {
            "cid": "c0ffee-1",
            "payout": "35.00",
            "txid": _pid(event, status),
            "currency": "USD",
        }
    if code == "keitaro":
        word = {"pending": "lead", "approved": "sale"}.get(status, "rejected")
        return "/k3y/postback", {
            "subid": "c0ffee-1",
            "status": word,
            "payout": "35.00",
            "tid": f"TX-9-{event}",
            "currency": "USD",
        }
    if code == "binom":
        return "/click.php", {
            "cnv_id": "c0ffee-1",
            "payout": "35.00",
            "cnv_status": status,
            "cnv_status2": event,
            "cnv_currency": "USD",
        }
    if code == "redtrack":
        word = {"pending": "Pending", "approved": "Approved"}.get(status, "Declined")
        return "/postback", {
            "clickid": "c0ffee-1",
            "sum": "35.00",
            "type": event,
            "status": word,
            "rdtk_event_id": _pid(event, status),
        }
    if code == "bemob":
        word = {"pending": "pending", "approved": "approved"}.get(status, "declined")
        return "/postback", {
            "cid": "c0ffee-1",
            "payout": "35.00",
            "txid": f"TX-9-{event}",
            "status": word,
        }
    if code == "prosper202":
        return "/tracking202/static/gpb.php", {
            "amount": SIGNED[status],
            "subid": "c0ffee-1",
            "t202txid": _pid(event, status),
        }
    assert code == "funnelflux"
    return "/pb/", {"hit": "c0ffee-1", "tx": _pid(event, status), "rev": SIGNED[status]}


def test_the_seven_trackers_have_presets_with_a_document() -> None:
    codes = {preset.code for preset in PRESETS}
    assert codes == {
        "voluum",
        "keitaro",
        "binom",
        "redtrack",
        "bemob",
        "prosper202",
        "funnelflux",
    }
    for preset in PRESETS:
        assert preset.doc_url.startswith("https://")
        assert preset.click_macro and preset.dedupe_key
        assert set(preset.fire_on) <= set(lifecycle.STATUSES)
        assert "{click}" in preset.path


@pytest.mark.parametrize("code", [preset.code for preset in PRESETS])
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("status", lifecycle.STATUSES)
def test_each_preset_renders_its_vendor_parameters(code: str, event: str, status: str) -> None:
    assert _render(code, event, status) == _expected(code, event, status)


@pytest.mark.parametrize("code", [preset.code for preset in PRESETS])
def test_each_event_and_status_a_preset_fires_on_is_a_new_id_or_an_update(code: str) -> None:
    """What the issue's Prosper202 install lost: the signup after a trial of the same sale. Every
    event gets its own id; every status it fires on either its own id or, where the tracker
    updates a conversion's status, the same id as the sale's other statuses."""
    preset = preset_get(code)
    ids = set()
    for event in EVENTS:
        for status in preset.fire_on:
            _path, query = _render(code, event, status)
            dedupe = {k: v for k, v in query.items() if k in ("txid", "tid", "t202txid", "tx")}
            dedupe |= {k: v for k, v in query.items() if k == "rdtk_event_id"}
            ids.add((event, status, tuple(sorted(dedupe.items()))))
    per_event = {event: {entry[2] for entry in ids if entry[0] == event} for event in EVENTS}
    if code == "binom":
        return  # Binom keeps one conversion per click and tells events apart by cnv_status2
    assert all(per_event[a].isdisjoint(per_event[b]) for a in EVENTS for b in EVENTS if a != b)


@pytest.mark.parametrize(
    ("domain", "words"),
    [
        ("track.example.com/postback", "without a path"),
        ("track.example.com?x=1", "without a path"),
        ("ftp://track.example.com", "not ftp://"),
        ("javascript://track.example.com", "not javascript://"),
        ("10.0.0.5", "private"),
        ("127.0.0.1", "private"),
        ("[::1]", "private"),
        ("192.168.1.10:8080", "private"),
        ("2130706433", "numeric"),
        ("0x7f.1", "numeric"),
        ("8.8.8.8", "numeric"),
        ("localhost", "local name"),
        ("tracker.internal", "local name"),
        ("", "enter your tracker's domain"),
        ("track example.com", "space"),
        ("user:pw@track.example.com", "user name"),
        ("nodot", "not a domain name"),
    ],
)
def test_a_domain_a_preset_cannot_use_is_refused_saying_why(domain: str, words: str) -> None:
    with pytest.raises(PresetError) as caught:
        preset_render(preset_get("voluum"), domain)
    assert caught.value.field == "domain"
    assert words in str(caught.value)


def test_a_domain_may_be_typed_with_its_scheme_port_or_a_trailing_slash() -> None:
    voluum = preset_get("voluum")
    assert preset_render(voluum, "http://t.example.com:8080").url_template.startswith(
        "http://t.example.com:8080/postback?"
    )
    assert preset_render(voluum, " t.example.com/ ").url_template.startswith(
        "https://t.example.com/postback?"
    )


@pytest.mark.parametrize(
    ("key", "words"),
    [("", "needs its postback key"), ("ab cd", "space"), ("ab/cd", "only letters")],
)
def test_a_key_with_spaces_or_missing_is_refused(key: str, words: str) -> None:
    with pytest.raises(PresetError) as caught:
        preset_render(preset_get("keitaro"), "track.example.com", key)
    assert caught.value.field == "key"
    assert words in str(caught.value)


def test_the_click_param_is_the_affiliates_own() -> None:
    rendered = preset_render(preset_get("funnelflux"), "ff.example.com", click_param="subId")
    assert rendered.url_template.startswith("https://ff.example.com/pb/?hit={subId}&")


@given(st.text(max_size=40))
def test_any_typed_domain_either_renders_a_valid_template_or_says_why(domain: str) -> None:
    try:
        rendered = preset_render(preset_get("bemob"), domain)
    except PresetError as exc:
        assert str(exc)
    else:
        validate_template(rendered.url_template, ["clickId"])


def test_transaction_id_alone_to_several_events_warns_and_says_what_instead() -> None:
    template = "https://t.example/pb?tx={transaction_id}&c={clickId}"
    warning = dedupe_warning(
        url_template=template, event_codes=["trial", "signup"], fire_on=["approved"]
    )
    assert "{postback_id}" in warning and "{transaction_id}-{event}" in warning
    assert dedupe_warning(url_template=template, event_codes=["signup"], fire_on=["approved"]) == ""
    assert dedupe_warning(
        url_template=template, event_codes=["signup"], fire_on=["approved", "reversed"]
    )
    for safe in (
        "https://t.example/pb?tx={postback_id}",
        "https://t.example/pb?tx={transaction_id}-{event}",
        "https://t.example/pb?c={clickId}",
    ):
        assert not dedupe_warning(
            url_template=safe, event_codes=["trial", "signup"], fire_on=lifecycle.STATUSES
        )
