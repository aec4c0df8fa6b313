"""Hostile input for the tracker parser (docs/spec.md §3) and the URL templates and macros
(docs/spec.md §4).

Control characters, very long values, broken and double percent-encoding, unbalanced braces,
unicode edge cases, and values shaped like URL structure. The properties run on a bounded,
derandomized set of examples so the file is fast and gives the same answer on every run.
"""

import contextlib
import re
import string
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from postbacks.macros import (
    MAX_URL_LENGTH,
    TemplateError,
    available_macros,
    form_body,
    macro_values,
    render_url,
    validate_template,
)
from postbacks.tracker import (
    TrackerError,
    TrackerFormat,
    build_tracker,
    parse_tracker,
    split_network_id,
)

T = TypeVar("T")

BOUNDED = settings(max_examples=100, deadline=None, derandomize=True, database=None)
LONG = settings(max_examples=12, deadline=None, derandomize=True, database=None)
# Generous: each call below takes milliseconds; this only catches a hang or quadratic blow-up.
TIME_LIMIT = 1.0

REVSHARE = TrackerFormat(params=("affid", "TransID", "clickId"))
PARAMS = REVSHARE.params
KNOWN = available_macros(PARAMS)

# Strings that have broken parsers and URL builders elsewhere.
HOSTILE = [
    *["\x00", "\t", "\n", "\r", "\r\n", "\x0b", "\x1b", "\x7f", " ", "\xa0", "\u3000"],
    *["\x80", "\x85", "\x9b", "\x9f", "\u2028", "\u2029"],
    *["\u200b", "\u200e", "\u200f", "\u202e", "\u2066", "\ufeff", "\uffff"],
    *["%", "%%", "%ff", "%FF%FE", "%c3%28", "%e2%82", "%zz", "%4", "%00", "%0d%0a", "%C0%AF"],
    *["%ED%A0%80", "%25", "%2541", "%252541", "%2D", "%41", "%e2%82%ac"],
    *["&", "=", "#", "?", "/", "\\", ";", "+", ":", "@", ".", "..", "//", "[", "]"],
    *["&x=1", "#top", "?q=1", "http://evil.example/", "\r\nHost: evil.example"],
    *["{", "}", "{}", "{clickId}", "{{p1}}", "{a{b}}"],
    *["é", "e\u0301", "\u0301", "💸", "👨\u200d👩\u200d👧", "\U0001f1fa\U0001f1f8", "İ", "ß"],
    *["trID_", "_trID", "-", "_", "1234567_", "0", "9" * 19],
]
SURROGATES = ["\ud800", "\udbff", "\udc80", "\udcff", "\udfff"]

_piece = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=4))
# Any text, including what a tracker can only carry with care (NUL, lone surrogates).
hostile_text = st.lists(_piece, max_size=8).map("".join)
with_surrogates = st.lists(
    st.one_of(_piece, st.sampled_from(SURROGATES), st.characters(categories=["Cs"])),
    max_size=8,
).map("".join)
long_text = st.builds(
    lambda piece, length: (piece * length)[:length],
    st.sampled_from([*HOSTILE, *SURROGATES, "a"]),
    st.integers(min_value=10_000, max_value=100_000),
)


def timed(call: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def strict_unquote(text: str) -> str:
    """Undo the renderer's one encoding, lone surrogates included (they go out as their bytes)."""
    return unquote(text, errors="surrogatepass")


# --- docs/spec.md §3: the tracker parser
# ----------------------------------------------------------------


@st.composite
def format_fields_and_raw(draw: st.DrawFn) -> tuple[dict[str, object], str]:
    marker = st.lists(_piece, max_size=3).map("".join)
    fields: dict[str, object] = {
        "prefix": draw(marker),
        "suffix": draw(marker),
        "separator": draw(marker),
        "params": tuple(draw(st.lists(hostile_text, max_size=5))),
    }
    body = draw(st.one_of(hostile_text, long_text))
    framed = f"{fields['prefix']}{body}{fields['suffix']}"
    return fields, draw(st.sampled_from([body, framed, f" \n{framed}\x85 "]))


@BOUNDED
@given(format_fields_and_raw(), st.none() | st.integers(min_value=-5, max_value=10**18))
def test_any_format_is_usable_or_refused_and_parse_raises_only_tracker_error(
    case: tuple[dict[str, object], str], network_id: int | None
) -> None:
    fields, raw = case
    try:
        fmt = TrackerFormat(**fields)  # type: ignore[arg-type]
    except TrackerError as exc:
        assert exc.code == "bad_format"
        return

    try:
        values, elapsed = timed(lambda: parse_tracker(raw, fmt, network_id=network_id))
    except TrackerError as exc:
        assert exc.code in {"empty", "missing_prefix", "missing_suffix", "bad_network_id"}
        assert str(exc)
        return

    assert elapsed < TIME_LIMIT
    assert list(values) == list(fmt.params)
    assert all(isinstance(value, str) for value in values.values())


@BOUNDED
@given(
    st.lists(st.text(st.characters(exclude_characters="\x00")), min_size=3, max_size=3),
    st.integers(min_value=1, max_value=3),
)
def test_encoded_value_is_decoded_exactly_once_never_twice(values: list[str], layers: int) -> None:
    def encode(value: str, times: int) -> str:
        for _ in range(times):
            # quote() never encodes "-", the separator.
            value = quote(value, safe="").replace("-", "%2D")
        return value

    tracker = "trID_" + "-".join(encode(value, layers) for value in values) + "_trID"

    parsed = parse_tracker(tracker, REVSHARE)

    assert list(parsed.values()) == [encode(value, layers - 1) for value in values]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("%2541", "%41"),
        ("%252541", "%2541"),
        ("%%41", "%A"),
        ("%zz%41", "%zzA"),
        ("%E2%82%AC%", "€%"),
        ("%0D%0A", "\r\n"),
        ("%E2%80%AE", "\u202e"),
        ("%F0%9F%92%B8", "💸"),
        ("%e2%82", "%e2%82"),
        ("%c3%28", "%c3%28"),
        ("%41%ff", "%41%ff"),
        ("%C0%AF", "%C0%AF"),
        ("%C0%80", "%C0%80"),
        ("%ED%A0%80", "%ED%A0%80"),
        ("%F4%90%80%80", "%F4%90%80%80"),
        ("%ED%B2%80ok%41", "%ED%B2%80ok%41"),
    ],
    ids=lambda text: text.encode("unicode_escape").decode(),
)
def test_escape_is_decoded_once_or_the_whole_value_kept_when_not_utf8(raw: str, value: str) -> None:
    assert parse_tracker(f"trID_x-{raw}-c_trID", REVSHARE)["TransID"] == value


# Byte sequences no UTF-8 decoder accepts, whatever surrounds them: FF/FE/F5 and C0/C1 never
# start a character, C3 28 and F4 90 break the character they start, ED A0 is a surrogate.
_NEVER_UTF8 = ["%ff", "%FE", "%F5%80%80%80", "%C0%AF", "%c1%81", "%c3%28", "%F4%90%80%80"]
_NEVER_UTF8 += ["%ED%A0%80"]


@BOUNDED
@given(
    st.lists(st.sampled_from(["%41", "%C3%A9", "%e2%82%ac", "%25", "%", "%zz", "a", "."])),
    st.sampled_from(_NEVER_UTF8),
    st.lists(st.sampled_from(["%41", "%C3%A9", "%80", "%BF", "%2D", "%", "b"])),
)
def test_value_with_an_undecodable_escape_is_kept_exactly_as_it_arrived(
    before: list[str], broken: str, after: list[str]
) -> None:
    value = "".join([*before, broken, *after])

    assert parse_tracker(f"trID_{value}-t-c_trID", REVSHARE)["affid"] == value


_MAKES_NUL_OR_SURROGATE = ["%00", "%C0%80", "%E0%80%80", "%ED%A0%80", "%ed%b2%80", "%ED%BF%BF"]


@BOUNDED
@given(
    st.lists(
        st.one_of(
            st.sampled_from([*_MAKES_NUL_OR_SURROGATE, *HOSTILE]),
            st.text(st.characters(exclude_characters="\x00"), max_size=3),
        )
    ).map("".join)
)
def test_decoding_never_yields_a_nul_or_a_lone_surrogate(body: str) -> None:
    assume("\x00" not in body)

    values = parse_tracker(f"trID_{body}_trID", REVSHARE)

    for value in values.values():
        assert "\x00" not in value
        assert not any("\ud800" <= char <= "\udfff" for char in value)


_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u3000"


@BOUNDED
@given(
    st.text(st.sampled_from(_WHITESPACE)),
    st.text(st.sampled_from(_WHITESPACE)),
    st.lists(hostile_text, min_size=3, max_size=3),
)
def test_whitespace_around_a_tracker_never_changes_its_values(
    before: str, after: str, values: list[str]
) -> None:
    tracker = build_tracker(values, REVSHARE, network_id=1234567)

    assert parse_tracker(before + tracker + after, REVSHARE, network_id=1234567) == parse_tracker(
        tracker, REVSHARE, network_id=1234567
    )


@BOUNDED
@given(st.lists(with_surrogates.filter(lambda value: "\x00" not in value), min_size=3, max_size=3))
def test_lone_surrogates_and_controls_in_values_survive_build_and_parse(values: list[str]) -> None:
    tracker = build_tracker(values, REVSHARE, network_id=42)

    assert parse_tracker(tracker, REVSHARE, network_id=42) == dict(zip(PARAMS, values, strict=True))


@LONG
@given(long_text.filter(lambda value: "\x00" not in value))
def test_very_long_values_round_trip_in_bounded_time(value: str) -> None:
    fmt = TrackerFormat(params=("affid", "TransID", "clickId", "rest"))
    tracker = build_tracker([value, value[::-1], value, value], fmt, network_id=1234567)

    parsed, elapsed = timed(lambda: parse_tracker(tracker, fmt, network_id=1234567))
    found, found_elapsed = timed(lambda: split_network_id(tracker, prefixes=["trID_", "tr"]))

    assert parsed == {"affid": value, "TransID": value[::-1], "clickId": value, "rest": value}
    assert found == (1234567, "trID_")
    assert elapsed < TIME_LIMIT
    assert found_elapsed < TIME_LIMIT


@pytest.mark.parametrize(
    "body",
    ["%", "%ff", "%e2%82", "%25", "-", "_", "9", "trID_", " ", "\x85", "\u3000", "{", "💸"],
)
def test_pathological_long_tracker_is_handled_in_bounded_time(body: str) -> None:
    for raw in [body * 100_000, f"trID_{body * 100_000}_trID", f"trID_{'9' * 100_000}_{body}_trID"]:
        start = time.perf_counter()
        with contextlib.suppress(TrackerError):
            parse_tracker(raw, REVSHARE, network_id=1234567)
        split_network_id(raw, prefixes=["trID_", ""])

        assert time.perf_counter() - start < TIME_LIMIT


@BOUNDED
@given(
    st.one_of(
        hostile_text,
        st.builds("{}{}_{}".format, st.sampled_from(["trID_", "x"]), st.integers(), hostile_text),
    ),
    st.lists(st.sampled_from(["trID_", "tr", "", "x", "1", "_"]), max_size=4),
)
def test_split_network_id_finds_only_a_real_positive_leading_id(
    raw: str, prefixes: list[str]
) -> None:
    network_id, prefix = split_network_id(raw, prefixes=prefixes)

    if network_id is None:
        assert prefix == ""
    else:
        assert 1 <= network_id < 10**18
        assert prefix in prefixes
        assert raw.strip().startswith(f"{prefix}{network_id}_")


@BOUNDED
@given(with_surrogates)
def test_hostile_tracker_values_reach_the_url_each_in_its_own_parameter(body: str) -> None:
    tracker = parse_tracker(f"trID_{body}_trID", REVSHARE)
    values = macro_values(network={"amount": "25.00"}, tracker=tracker, tracker_params=list(PARAMS))

    url = render_url(
        "https://t.example/pb?a={affid}&t={TransID}&c={clickId}&p={p3}&s={amount}", values
    )

    assert parse_qsl(urlsplit(url).query, keep_blank_values=True, errors="surrogatepass") == [
        ("a", tracker["affid"]),
        ("t", tracker["TransID"]),
        ("c", tracker["clickId"]),
        ("p", tracker["clickId"]),
        ("s", "25.00"),
    ]
    assert re.fullmatch(r"[!-~]+", url)


# --- docs/spec.md §4: templates and the renderer
# -------------------------------------------------------

# RFC 3986: unreserved, reserved (gen-delims and sub-delims), and percent-escapes; nothing else.
URI = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
SHAPED = "https://t.example:8443/pb/{p1}/x?c={clickId}&s={amount}&t=1#f={p2}"


@BOUNDED
@given(with_surrogates, with_surrogates, with_surrogates, with_surrogates)
def test_hostile_values_stay_inside_their_own_segment_parameter_and_fragment(
    segment: str, click_id: str, amount: str, fragment: str
) -> None:
    # "." and ".." are dot-segments: receivers resolve them whatever their encoding (RFC 3986
    # §2.3, §5.2.4), so no path value can carry them as data.
    assume(segment not in {".", ".."})

    url = render_url(SHAPED, {"p1": segment, "clickId": click_id, "amount": amount, "p2": fragment})

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "t.example:8443")
    [root, pb, sent_segment, x] = parts.path.split("/")
    assert (root, pb, x) == ("", "pb", "x")
    assert strict_unquote(sent_segment) == segment
    assert parse_qsl(parts.query, keep_blank_values=True, errors="surrogatepass") == [
        ("c", click_id),
        ("s", amount),
        ("t", "1"),
    ]
    assert parts.fragment.startswith("f=")
    assert strict_unquote(parts.fragment[2:]) == fragment


_PATH_TEXT = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/"


@st.composite
def templates(draw: st.DrawFn) -> str:
    """Valid ASCII templates: a fixed host, then literal text (escapes included) and macros in
    the path, the query and the fragment."""
    macro = st.sampled_from(sorted(KNOWN)).map("{{{}}}".format)
    escape = st.sampled_from(["%20", "%2F", "%2f", "%7B", "%7D", "%25", "%3F", "%23", "%C3%A9"])

    def section(alphabet: str) -> st.SearchStrategy[str]:
        return st.lists(
            st.one_of(st.text(st.sampled_from(alphabet), max_size=5), escape, macro), max_size=5
        ).map("".join)

    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(st.sampled_from(["t.example", "t.example:8080", "203.0.113.7", "[2001:db8::1]"]))
    template = f"{scheme}://{host}/{draw(section(_PATH_TEXT))}"
    if draw(st.booleans()):
        template += "?" + draw(section(_PATH_TEXT + "?"))
    if draw(st.booleans()):
        template += "#" + draw(section(_PATH_TEXT + "?"))
    return template


def without_macros(template: str) -> str:
    return re.sub(r"\{[A-Za-z][A-Za-z0-9_]*\}", "", template)


@BOUNDED
@given(templates(), with_surrogates)
def test_rendered_url_is_printable_ascii_and_keeps_the_templates_structure(
    template: str, value: str
) -> None:
    url = render_url(template, dict.fromkeys(KNOWN, value))

    bare = without_macros(template)
    assert url.isascii()
    assert URI.fullmatch(url)
    parts, expected = urlsplit(url), urlsplit(bare)
    assert (parts.scheme, parts.netloc) == (expected.scheme, expected.netloc)
    for char in "/?#[]":
        assert url.count(char) == bare.count(char)
    for char in "&=":
        assert parts.query.count(char) == expected.query.count(char)


@BOUNDED
@given(templates())
def test_template_text_around_macros_is_sent_exactly_as_written(template: str) -> None:
    assert render_url(template, dict.fromkeys(KNOWN, "")) == without_macros(template)


@BOUNDED
@given(st.text(), st.integers(min_value=0, max_value=3))
def test_values_are_percent_encoded_once_never_twice(text: str, layers: int) -> None:
    value = text
    for _ in range(layers):
        value = quote(value, safe="")

    url = render_url("https://t.example/pb/{p1}?c={clickId}", {"p1": value, "clickId": value})

    path, _, query = url.removeprefix("https://t.example/pb/").partition("?c=")
    assert query == quote(value, safe="")
    assert unquote(query) == value
    assert unquote(path) == value


@LONG
@given(long_text)
def test_long_values_render_in_bounded_time_and_come_back_whole(value: str) -> None:
    url, elapsed = timed(lambda: render_url(SHAPED, dict.fromkeys(KNOWN, value)))

    parts = urlsplit(url)
    assert elapsed < TIME_LIMIT
    assert URI.fullmatch(url)
    assert dict(parse_qsl(parts.query, errors="surrogatepass"))["c"] == value
    assert strict_unquote(parts.path.split("/")[2]) == value


@LONG
@given(long_text)
def test_overlong_template_is_refused_by_its_length_in_bounded_time(text: str) -> None:
    template = f"https://t.example/pb?c={text}"

    start = time.perf_counter()
    with pytest.raises(TemplateError, match=f"the limit is {MAX_URL_LENGTH}"):
        validate_template(template, PARAMS)

    assert time.perf_counter() - start < TIME_LIMIT


def test_template_at_the_length_limit_full_of_macros_renders_in_bounded_time() -> None:
    head = "https://t.example/pb?"
    count = (MAX_URL_LENGTH - len(head)) // len("a={p1}&")
    template = head + "&".join(["a={p1}"] * count)
    value = "&=%\r\n💸\ud800" * 200

    url, elapsed = timed(lambda: render_url(template, {"p1": value}))

    assert elapsed < TIME_LIMIT
    assert parse_qsl(urlsplit(url).query, errors="surrogatepass") == [("a", value)] * count


_TEMPLATE_PIECES = [
    *["https://", "http://", "HTTP://", "ftp://", "//", "t.example", ":8080", "@", "/", "?", "#"],
    *["{p1}", "{clickId}", "{amount}", "{foo}", "{clickid}", "{p9}", "{1x}", "{a-b}"],
]


@BOUNDED
@given(
    # URL-shaped pieces with at most two hostile ones among them, so that some examples pass.
    st.builds(
        lambda pieces, hostile, at: "".join(pieces[:at] + hostile + pieces[at:]),
        st.lists(st.sampled_from(_TEMPLATE_PIECES), max_size=10),
        st.lists(_piece, max_size=2),
        st.integers(min_value=0, max_value=10),
    ),
    with_surrogates,
)
def test_any_text_is_accepted_or_refused_with_a_template_error(text: str, value: str) -> None:
    for template in [text, f"https://t.example/{text}", f"https://t.example/pb?c={text}"]:
        try:
            validate_template(template, PARAMS)
        except TemplateError as exc:
            assert str(exc)
            continue

        url = render_url(template, dict.fromkeys(KNOWN, value))

        assert "{" not in url
        assert "}" not in url
        assert all(char.isprintable() and not char.isspace() for char in url)
        assert urlsplit(url).scheme.lower() in {"http", "https"}
        assert urlsplit(url).hostname


@BOUNDED
@given(
    st.lists(
        st.sampled_from(["{", "}", "{p1}", "{p1}", "{clickId}", "{clickId}", "{foo}", "p1", "x"]),
        max_size=6,
    )
)
def test_braces_are_accepted_only_around_a_whole_known_macro_name(pieces: list[str]) -> None:
    query = "".join(pieces)
    template = f"https://t.example/pb?c={query}"
    names = re.findall(r"\{([^{}]*)\}", query)
    well_formed = re.fullmatch(r"(?:[^{}]|\{[A-Za-z][A-Za-z0-9_]*\})*", query) is not None

    try:
        validate_template(template, PARAMS)
    except TemplateError as exc:
        assert not (well_formed and set(names) <= set(KNOWN))
        assert "{" in str(exc) or "}" in str(exc)
    else:
        assert well_formed
        assert set(names) <= set(KNOWN)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("{{clickId}}", "the '{' at character 24 is never closed"),
        ("{a{b}}", "the '{' at character 24 is never closed"),
        ("{", "the '{' at character 24 is never closed"),
        ("}", "the '}' at character 24 has no opening '{'"),
        ("}{", "the '}' at character 24 has no opening '{'"),
        ("{clickId}}", "the '}' at character 33 has no opening '{'"),
        ("{clickId}{", "the '{' at character 33 is never closed"),
        ("{p1}{", "the '{' at character 28 is never closed"),
        ("{}", "empty macro {} at character 24"),
        ("{{}}", "the '{' at character 24 is never closed"),
        ("{p 1}", "space"),
        ("{p1\n}", "space"),
        ("{%70%31}", "{%70%31} is not a valid macro name"),
        ("{p\u0131}", "{p\u0131} is not a valid macro name"),
        ("{\uff50\uff11}", "{\uff50\uff11} is not a valid macro name"),
    ],
)
def test_nested_unbalanced_or_disguised_braces_are_refused_with_the_reason(
    query: str, words: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        validate_template(f"https://t.example/pb?c={query}", PARAMS)

    assert words in str(caught.value)


@BOUNDED
@given(
    st.one_of(
        st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True),
        st.sampled_from(sorted(KNOWN)).map(str.upper),
        st.sampled_from(sorted(KNOWN)).map(lambda name: name + "_"),
        st.sampled_from(["p0", "p4", "p99", "P1", "clickid", "ClickId", "Amount", "eventName"]),
    ),
    st.sampled_from(["https://t.example/{}", "https://t.example/pb?c={}", "https://t.example/#{}"]),
)
def test_unknown_macro_is_refused_with_a_message_naming_it(name: str, shape: str) -> None:
    assume(name not in KNOWN)
    template = shape.format(f"{{{name}}}")

    with pytest.raises(TemplateError) as validated:
        validate_template(template, PARAMS)
    with pytest.raises(TemplateError) as rendered:
        render_url(template, dict.fromkeys(KNOWN, "x"))

    assert str(validated.value).startswith(f"unknown macro {{{name}}}")
    assert str(rendered.value).startswith(f"unknown macro {{{name}}}")


@BOUNDED
@given(st.lists(hostile_text, max_size=20, unique=True))
def test_every_available_macro_is_usable_whatever_the_tracker_param_names(
    params: list[str],
) -> None:
    macros = available_macros(params)

    assert {f"p{index}" for index in range(1, len(params) + 1)} <= set(macros)
    for name in macros:
        validate_template(f"https://t.example/pb?c={{{name}}}", params)


@BOUNDED
@given(
    st.characters(categories=["Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp"]),
    st.integers(min_value=0, max_value=len(SHAPED)),
)
def test_any_control_invisible_or_space_character_in_a_template_is_refused_at_its_position(
    char: str, position: int
) -> None:
    template = SHAPED[:position] + char + SHAPED[position:]

    with pytest.raises(TemplateError) as caught:
        validate_template(template, PARAMS)

    assert f"at character {position + 1};" in str(caught.value)


@pytest.mark.parametrize(
    "char",
    ["\x80", "\x9b", "\x9f", "\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\ud800", "\ue000"],
    ids=["C1-PAD", "C1-CSI", "C1-APC", "ZWSP", "LRM", "RLO", "LRI", "BOM", "surrogate", "private"],
)
def test_c1_controls_bidi_and_zero_width_marks_and_lone_surrogates_are_refused(char: str) -> None:
    # These passed the ASCII-only check: sent as raw bytes, or dropped (a lone surrogate), so the
    # URL sent was not the URL that was reviewed.
    with pytest.raises(TemplateError, match="at character 21;"):
        validate_template(f"https://t.example/pb{char}?c={{clickId}}", PARAMS)
    with pytest.raises(TemplateError, match="at character 21;"):
        render_url(f"https://t.example/pb{char}?c={{clickId}}", {"clickId": "x"})


@pytest.mark.parametrize("text", ["é", "bücher", "中文", "💸"])
def test_printable_unicode_in_a_template_is_still_accepted(text: str) -> None:
    # The line drawn by the check above: what an affiliate can read is not refused.
    validate_template(f"https://t.example/{text}?c={{clickId}}", PARAMS)


@BOUNDED
@given(with_surrogates, with_surrogates)
def test_form_body_carries_hostile_values_as_ascii_form_fields(click_id: str, amount: str) -> None:
    url = render_url(SHAPED, {"p1": "seg", "clickId": click_id, "amount": amount, "p2": "f"})

    base, body = form_body(url)

    assert base == "https://t.example:8443/pb/seg/x"
    assert parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="surrogatepass") == [
        ("c", click_id),
        ("s", amount),
        ("t", "1"),
    ]
