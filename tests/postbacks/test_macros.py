"""docs/spec.md §4: URL templates and macros."""

from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postbacks.macros import (
    NETWORK_MACROS,
    TemplateError,
    available_macros,
    form_body,
    macro_values,
    render_url,
    validate_template,
)

PARAMS = ["affid", "TransID", "clickId", "whateverId"]


def query_value(url: str, name: str) -> str:
    [value] = parse_qs(urlsplit(url).query, keep_blank_values=True)[name]
    return value


def test_network_macros_are_the_spec_list() -> None:
    assert set(NETWORK_MACROS) == {
        "transaction_id",
        "conversion_id",
        "event",
        "event_name",
        "offer_id",
        "offer_name",
        "offer_kind",
        "affiliate_id",
        "amount",
        "currency",
        "timestamp",
        "datetime",
        # The conversion lifecycle's (status postbacks).
        "status",
        "reason",
        "signed_amount",
        "postback_id",
        "is_test",
        "signature",
    }


def test_available_macros_include_tracker_params_and_positions() -> None:
    macros = available_macros(["affid", "clickId"])

    assert set(macros) == {*NETWORK_MACROS, "affid", "clickId", "p1", "p2"}
    assert macros["clickId"] == "your tracker value 'clickId'"
    assert "'clickId'" in macros["p2"]


def test_param_named_like_a_network_macro_keeps_the_network_meaning() -> None:
    macros = available_macros(["amount", "clickId"])

    assert macros["amount"] == NETWORK_MACROS["amount"]
    assert "'amount'" in macros["p1"]


def test_macro_values_give_network_values_precedence_and_fill_positions() -> None:
    values = macro_values(
        network={"amount": "25.00", "event": "signup"},
        tracker={"amount": "from-tracker", "clickId": "c0ffee"},
        tracker_params=["amount", "clickId", "added_later"],
    )

    assert values == {
        "clickId": "c0ffee",
        "added_later": "",
        "p1": "from-tracker",
        "p2": "c0ffee",
        "p3": "",
        "amount": "25.00",
        "event": "signup",
    }


def test_spec_example_template_is_valid() -> None:
    validate_template(
        "https://track.example/pb?cid={clickId}&tx={transaction_id}&sum={amount}&o={offer_id}",
        PARAMS,
    )


def test_positional_macros_are_valid_up_to_the_number_of_params() -> None:
    validate_template("https://t.example/pb?a={p1}&d={p4}", PARAMS)

    with pytest.raises(TemplateError, match=r"unknown macro \{p5\}"):
        validate_template("https://t.example/pb?e={p5}", PARAMS)


def test_unknown_macro_is_named_with_what_is_available() -> None:
    with pytest.raises(TemplateError) as caught:
        validate_template("https://t.example/pb?x={foo}", ["clickId"])

    message = str(caught.value)
    assert message.startswith("unknown macro {foo}")
    assert "available: {transaction_id}" in message
    assert "{clickId}" in message
    assert "{p1}" in message


def test_tracker_param_names_are_case_sensitive() -> None:
    with pytest.raises(
        TemplateError, match=r"unknown macro \{clickid\} \(did you mean \{clickId\}"
    ):
        validate_template("https://t.example/pb?c={clickid}", PARAMS)


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("track.example/pb?c={clickId}", "must be absolute"),
        ("/pb?c={clickId}", "must be absolute"),
        ("ftp://track.example/pb", "must start with http:// or https://"),
        ("javascript://alert(1)", "must start with http:// or https://"),
        ("https:///pb?c={clickId}", "has no host"),
        ("https://user@/pb", "has no host"),
        ("https://t.example:port/pb", "not a valid host"),
        ("https://[::1/pb", "not a valid host"),
        ("{scheme}://t.example/pb", "scheme"),
        ("https://{host}/pb", "host must be written out"),
        ("https://{clickId}.t.example/pb", "host must be written out"),
        ("https://t.example:{port}/pb", "host must be written out"),
        ("https://t.example/pb?c={clickId", "never closed"),
        ("https://t.example/pb?c={click{Id}}", "never closed"),
        ("https://t.example/pb?c=clickId}", "no opening"),
        ("https://t.example/pb?c={}", "empty macro {}"),
        ("https://t.example/pb?c={click-id}", "not a valid macro name"),
        ("https://t.example/pb?c={1st}", "not a valid macro name"),
        ("https://t.example/pb?c={foo}", "unknown macro {foo}"),
        ("https://t.example/pb?c= {clickId}", "space"),
        ("https://t.example/pb?c={clickId}\n", "space"),
        ("https://t.example/pb?" + "x" * 2030, "the limit is 2048"),
    ],
)
def test_template_problem_is_refused_with_its_name(template: str, words: str) -> None:
    with pytest.raises(TemplateError) as caught:
        validate_template(template, PARAMS)

    assert words in str(caught.value)


def test_template_of_exactly_the_limit_is_accepted() -> None:
    template = "https://t.example/pb?c={clickId}&x="
    validate_template(template + "x" * (2048 - len(template)), PARAMS)


def test_uppercase_scheme_and_port_are_accepted() -> None:
    validate_template("HTTPS://t.example:8443/pb/{clickId}#{p1}", PARAMS)


def test_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a&b=c", "a%26b%3Dc"),
        ("a b", "a%20b"),
        ("1+1", "1%2B1"),
        ("100%", "100%25"),
        ("%41", "%2541"),
        ("a/b", "a%2Fb"),
        ("a#b", "a%23b"),
        ("a?b", "a%3Fb"),
        ("café", "caf%C3%A9"),
        ("💸", "%F0%9F%92%B8"),
        ("-._~", "-._~"),
        ("{clickId}", "%7BclickId%7D"),
    ],
)
def test_query_value_is_encoded_as_data(value: str, encoded: str) -> None:
    url = render_url("https://t.example/pb?c={clickId}&n=1", {"clickId": value})

    assert url == f"https://t.example/pb?c={encoded}&n=1"
    assert query_value(url, "c") == value


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a/b", "a%2Fb"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("100%", "100%25"),
        ("a b", "a%20b"),
        ("café", "caf%C3%A9"),
        ("a+b=c&d;e:f@g", "a+b=c&d;e:f@g"),
    ],
)
def test_path_value_is_encoded_as_one_segment(value: str, encoded: str) -> None:
    url = render_url("https://t.example/pb/{clickId}/done", {"clickId": value})

    assert url == f"https://t.example/pb/{encoded}/done"
    assert unquote(urlsplit(url).path.split("/")[2]) == value


def test_fragment_value_is_encoded_like_a_query_value() -> None:
    url = render_url("https://t.example/pb?x=1#c={clickId}", {"clickId": "a&b c/d"})

    assert url == "https://t.example/pb?x=1#c=a%26b%20c%2Fd"


def test_question_mark_in_fragment_does_not_start_a_query() -> None:
    url = render_url("https://t.example/pb#a?c={clickId}", {"clickId": "x/y"})

    assert url == "https://t.example/pb#a?c=x%2Fy"


def test_literal_template_text_is_left_as_written() -> None:
    url = render_url("https://t.example/p%20b?a=1+2&b=%2F&c={p1}", {"p1": "%2F"})

    assert url == "https://t.example/p%20b?a=1+2&b=%2F&c=%252F"


def test_same_macro_can_appear_twice() -> None:
    url = render_url("https://t.example/{p1}?c={p1}", {"p1": "a b"})

    assert url == "https://t.example/a%20b?c=a%20b"


def test_render_refuses_a_macro_without_a_value() -> None:
    with pytest.raises(TemplateError, match=r"unknown macro \{clickId\}"):
        render_url("https://t.example/pb?c={clickId}", {"amount": "1"})


def test_render_refuses_an_invalid_template() -> None:
    with pytest.raises(TemplateError, match="host must be written out"):
        render_url("https://{host}/pb", {"host": "evil.example"})


def test_render_encodes_lone_surrogates_instead_of_failing() -> None:
    url = render_url("https://t.example/pb?c={p1}", {"p1": "a\ud800"})

    assert url == "https://t.example/pb?c=a%ED%A0%80"


def test_form_body_is_the_rendered_query_unchanged() -> None:
    url = render_url(
        "https://t.example/pb?c={clickId}&s={amount}#frag",
        {
            "clickId": "a&b=c d",
            "amount": "25.00",
        },
    )

    assert form_body(url) == ("https://t.example/pb", b"c=a%26b%3Dc%20d&s=25.00")
    assert parse_qs(form_body(url)[1].decode(), keep_blank_values=True) == {
        "c": ["a&b=c d"],
        "s": ["25.00"],
    }


def test_form_body_of_url_without_query_is_empty() -> None:
    assert form_body("https://t.example/pb") == ("https://t.example/pb", b"")


any_value = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from(["&", "=", "+", " ", "%", "%25", "/", "#", "?", "{", "}", "é", ";"])
    ).map("".join),
)


@given(any_value, any_value)
def test_any_query_value_comes_back_from_parse_qs(value: str, other: str) -> None:
    url = render_url(
        "https://t.example/pb?c={clickId}&s={amount}&t=1#{p1}",
        {"clickId": value, "amount": other, "p1": value},
    )

    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert parsed == {"c": [value], "s": [other], "t": ["1"]}
    assert unquote(urlsplit(url).fragment) == value


@given(any_value)
def test_any_path_value_comes_back_as_one_segment(value: str) -> None:
    url = render_url("https://t.example/pb/{clickId}/x?c=1", {"clickId": value})

    segments = urlsplit(url).path.split("/")
    assert len(segments) == 4
    assert unquote(segments[2], errors="strict") == value


@given(st.one_of(any_value, st.from_regex(r"[A-Za-z0-9_.~-]*", fullmatch=True)))
def test_a_value_is_encoded_as_quote_encodes_it_whatever_shortcut_rendering_takes(
    value: str,
) -> None:
    """Rendering leaves values quote() would not change as they are without asking quote()
    (most values are ids, amounts and codes); the URL is the same either way."""
    url = render_url("https://t.example/p/{clickId}/é?c={clickId}", {"clickId": value})

    path = quote(value, safe="!$&'()*+,;=:@", errors="surrogatepass")
    query = quote(value, safe="", errors="surrogatepass")
    assert url == f"https://t.example/p/{path}/%C3%A9?c={query}"


@given(st.dictionaries(st.sampled_from([*NETWORK_MACROS, "clickId", "p1"]), any_value))
def test_rendered_url_never_holds_a_brace(values: dict[str, str]) -> None:
    template = "https://t.example/{p1}?" + "&".join(f"{name}={{{name}}}" for name in values)

    url = render_url(template, {"p1": "{p1}", **values})

    assert "{" not in url
    assert "}" not in url


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.0.0.1", "0"]
)
def test_legacy_numeric_ipv4_host_is_refused(host: str) -> None:
    with pytest.raises(TemplateError, match="legacy numeric form"):
        validate_template(f"http://{host}/pb", [])


@pytest.mark.parametrize("host", ["203.0.113.7", "track.example", "1.example", "10x.example"])
def test_plain_hosts_are_accepted(host: str) -> None:
    validate_template(f"http://{host}/pb", [])


def test_backslash_is_refused_so_no_parser_reads_another_host() -> None:
    with pytest.raises(TemplateError, match="backslash at character 18"):
        validate_template("https://t.example\\@evil.example/pb?tx={transaction_id}", [])


def test_non_ascii_text_after_the_host_is_sent_percent_encoded_once() -> None:
    url = render_url(
        "https://bücher.example/straße?ü={transaction_id}&x=ä", {"transaction_id": "é&1"}
    )
    assert url == "https://bücher.example/stra%C3%9Fe?%C3%BC=%C3%A9%261&x=%C3%A4"


@pytest.mark.parametrize(
    "template",
    [
        "http://evil@track.example/pb",
        "https://user:secret@track.example/pb?tx={transaction_id}",
        "https://:secret@track.example/pb",
        "https://@track.example/pb",
    ],
)
def test_user_info_before_the_host_is_refused_so_no_login_is_sent(template: str) -> None:
    with pytest.raises(TemplateError, match="user name or password before its host"):
        validate_template(template, [])
    with pytest.raises(TemplateError, match="user name or password before its host"):
        render_url(template, {"transaction_id": "tx-1"})


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "127.0.0.1"),  # fullwidth digits
        ("127\u30020\u30020\u30021", "127.0.0.1"),  # ideographic full stops
        ("\u2460\u2461\u2466.0.0.1", "127.0.0.1"),  # circled digits
        (
            "\uff12\uff11\uff13\uff10\uff17\uff10\uff16\uff14\uff13\uff13",
            "2130706433",
        ),  # fullwidth decimal form
    ],
)
def test_an_ip_address_disguised_in_non_ascii_is_refused_at_save(host: str, address: str) -> None:
    with pytest.raises(TemplateError, match=f"is the address {address} written with non-ASCII"):
        validate_template(f"http://{host}/pb", [])


def test_a_real_international_domain_name_is_accepted() -> None:
    validate_template("https://bücher.example/pb?tx={transaction_id}", [])
    validate_template("https://\uff54\uff52\uff41\uff43\uff4b.example/pb", [])


def test_an_invalid_international_domain_name_is_refused() -> None:
    with pytest.raises(TemplateError, match="not a valid international domain name"):
        validate_template("https://" + "a" * 70 + "ü.example/pb", [])
