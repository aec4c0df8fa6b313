"""docs/spec.md §3: tracker parsing."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from postbacks.tracker import (
    TrackerError,
    TrackerFormat,
    build_tracker,
    parse_tracker,
    placeholder_tracker,
    positional,
    split_network_id,
)

PPS = TrackerFormat(params=("affid", "TransID", "clickId", "whateverId"))
REVSHARE = TrackerFormat(params=("affid", "TransID", "clickId"))


def test_pps_tracker_maps_values_after_the_network_id() -> None:
    values = parse_tracker("trID_1234567_aff9-tx77-c0ffee-w1_trID", PPS, network_id=1234567)

    assert values == {"affid": "aff9", "TransID": "tx77", "clickId": "c0ffee", "whateverId": "w1"}


def test_values_keep_the_order_of_the_params() -> None:
    values = parse_tracker("trID_a-b-c_trID", REVSHARE)

    assert list(values) == ["affid", "TransID", "clickId"]


def test_uuid_click_id_survives_in_last_position() -> None:
    uuid = "3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b"

    values = parse_tracker(f"trID_aff9-tx77-{uuid}_trID", REVSHARE)

    assert values["clickId"] == uuid


def test_missing_values_are_empty() -> None:
    values = parse_tracker("trID_1234567_aff9_trID", PPS, network_id=1234567)

    assert values == {"affid": "aff9", "TransID": "", "clickId": "", "whateverId": ""}


def test_empty_body_gives_empty_values() -> None:
    assert parse_tracker("trID__trID", REVSHARE) == {"affid": "", "TransID": "", "clickId": ""}


def test_no_params_gives_no_values() -> None:
    assert parse_tracker("trID_anything-at-all_trID", TrackerFormat()) == {}


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_tracker("  trID_a-b-c_trID\n", REVSHARE)["clickId"] == "c"


def test_percent_encoded_value_is_decoded_once() -> None:
    values = parse_tracker("trID_a%20b-%2541-caf%C3%A9_trID", REVSHARE)

    assert values == {"affid": "a b", "TransID": "%41", "clickId": "café"}


def test_encoded_separator_is_data_inside_a_value() -> None:
    values = parse_tracker("trID_a%2Db-tx-c_trID", REVSHARE)

    assert values == {"affid": "a-b", "TransID": "tx", "clickId": "c"}


def test_plus_is_kept_as_plus() -> None:
    assert parse_tracker("trID_a+b-t-c_trID", REVSHARE)["affid"] == "a+b"


def test_value_that_is_not_utf8_is_kept_as_it_arrived() -> None:
    values = parse_tracker("trID_%FF%FE-%41-ok_trID", REVSHARE)

    assert values == {"affid": "%FF%FE", "TransID": "A", "clickId": "ok"}


def test_malformed_escape_is_kept_as_it_arrived() -> None:
    assert parse_tracker("trID_100%-%zz-%4_trID", REVSHARE) == {
        "affid": "100%",
        "TransID": "%zz",
        "clickId": "%4",
    }


def test_revshare_tracker_without_network_id_is_all_values() -> None:
    values = parse_tracker("trID_aff9-tx77-c0ffee_trID", REVSHARE, network_id=1234567)

    assert values == {"affid": "aff9", "TransID": "tx77", "clickId": "c0ffee"}


def test_other_leading_number_is_kept_as_a_value() -> None:
    values = parse_tracker("trID_999_x-tx-c_trID", REVSHARE, network_id=1234567)

    assert values["affid"] == "999_x"


def test_without_network_id_a_leading_number_is_a_value() -> None:
    values = parse_tracker("trID_1234567_aff9-tx-c_trID", REVSHARE)

    assert values["affid"] == "1234567_aff9"


def test_custom_format_is_honoured() -> None:
    fmt = TrackerFormat(prefix="<<", suffix=">>", separator="|", params=("a", "b"))

    assert parse_tracker("<<42_x|y|z>>", fmt, network_id=42) == {"a": "x", "b": "y|z"}


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        ("", "empty", "tracker is empty"),
        ("   ", "empty", "tracker is empty"),
        ("aff9-tx77_trID", "missing_prefix", "tracker does not start with 'trID_'"),
        ("trID_aff9-tx77", "missing_suffix", "tracker does not end with '_trID'"),
        ("trID_trID", "missing_suffix", "tracker does not end with '_trID'"),
    ],
)
def test_unreadable_tracker_is_refused_with_a_reason(raw: str, code: str, message: str) -> None:
    with pytest.raises(TrackerError) as caught:
        parse_tracker(raw, REVSHARE)

    assert caught.value.code == code
    assert str(caught.value) == message


@pytest.mark.parametrize("network_id", [0, -5, True])
def test_network_id_must_be_positive(network_id: int) -> None:
    with pytest.raises(TrackerError) as caught:
        parse_tracker("trID_a_trID", REVSHARE, network_id=network_id)

    assert caught.value.code == "bad_network_id"


def test_tracker_error_is_a_value_error() -> None:
    assert issubclass(TrackerError, ValueError)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"separator": ""}, "separator is empty"),
        ({"separator": "%"}, "contains '%'"),
        ({"separator": "2D"}, "digits and the letters A-F"),
        ({"prefix": " trID_"}, "starts with whitespace"),
        ({"suffix": "_trID "}, "ends with whitespace"),
        ({"params": ("a", "b", "a")}, "'a' is listed twice"),
    ],
)
def test_format_that_cannot_be_read_back_is_refused(fields: dict[str, str], words: str) -> None:
    with pytest.raises(TrackerError) as caught:
        TrackerFormat(**fields)  # type: ignore[arg-type]

    assert caught.value.code == "bad_format"
    assert words in str(caught.value)


def test_split_network_id_finds_the_affiliate() -> None:
    assert split_network_id("trID_1234567_aff9-tx_trID", prefixes=["trID_"]) == (1234567, "trID_")


def test_split_network_id_prefers_the_longest_prefix() -> None:
    raw = "trID_x42_a_trID"

    assert split_network_id(raw, prefixes=["trID_", "trID_x"]) == (42, "trID_x")


def test_split_network_id_falls_back_to_a_shorter_prefix() -> None:
    raw = "ab1_x-y_ba"

    assert split_network_id(raw, prefixes=["ab1_", "ab"]) == (1, "ab")


@pytest.mark.parametrize(
    "raw",
    [
        "trID_aff9-tx77_trID",
        "trID_0_a_trID",
        "trID_000_a_trID",
        "trID_0123_a_trID",
        "trID_1234567-a_trID",
        "trID_1234567",
        "trID_١٢٣_a_trID",
        "xx_1234567_a_trID",
        "",
    ],
)
def test_split_network_id_returns_none_without_a_positive_leading_number(raw: str) -> None:
    assert split_network_id(raw, prefixes=["trID_"]) == (None, "")


def test_split_network_id_refuses_numbers_too_long_for_a_column() -> None:
    assert split_network_id("trID_" + "9" * 19 + "_a_trID", prefixes=["trID_"]) == (None, "")


def test_positional_macros_follow_param_order() -> None:
    values = {"affid": "aff9", "TransID": "tx77", "clickId": "c0ffee"}

    assert positional(values, REVSHARE.params) == {"p1": "aff9", "p2": "tx77", "p3": "c0ffee"}


def test_positional_macro_of_a_param_without_value_is_empty() -> None:
    assert positional({"affid": "aff9"}, ("affid", "added_later")) == {"p1": "aff9", "p2": ""}


def test_build_tracker_encodes_only_percent_and_separator() -> None:
    tracker = build_tracker(["a-b", "100%", "c d_é"], REVSHARE, network_id=7)

    assert tracker == "trID_7_a%2Db-100%25-c d_é_trID"


def test_build_tracker_encodes_every_character_of_a_long_separator() -> None:
    fmt = TrackerFormat(separator="|~", params=("a", "b"))

    assert build_tracker(["x~y", "|"], fmt) == "trID_x%7Ey|~%7C_trID"


def test_placeholder_tracker_matches_the_offer_link() -> None:
    assert (
        placeholder_tracker(PPS, network_id=1234567)
        == "trID_1234567_#affid#-#TransID#-#clickId#-#whateverId#_trID"
    )
    assert placeholder_tracker(REVSHARE) == "trID_#affid#-#TransID#-#clickId#_trID"


_TRICKY = ["-", "_", "%", "%25", "%2D", "%41", "%FF", "+", " ", "é", "💸", "0", "123_", "trID_"]


@st.composite
def formats(draw: st.DrawFn) -> TrackerFormat:
    name = st.from_regex(r"[A-Za-z]\w{0,5}", fullmatch=True)
    marker = st.text(st.sampled_from("trID_<>[]|#x-%9 é"), min_size=1, max_size=6)
    params = draw(st.lists(name, min_size=1, max_size=5, unique=True))
    fields = {
        "prefix": draw(marker),
        "suffix": draw(marker),
        "separator": draw(st.text(st.sampled_from("-_|~.;:,/x9A %é"), min_size=1, max_size=3)),
    }
    try:
        return TrackerFormat(**fields, params=tuple(params))
    except TrackerError:
        assume(False)
        raise


@st.composite
def format_and_values(draw: st.DrawFn) -> tuple[TrackerFormat, list[str]]:
    fmt = draw(formats())
    # Any text a tracker can carry into the database: everything but NUL (the API refuses it,
    # and a value that would decode to one is kept encoded, see the test below).
    pieces = st.one_of(
        st.text(st.characters(exclude_characters="\x00"), max_size=4),
        st.sampled_from([*_TRICKY, fmt.separator, fmt.prefix, fmt.suffix]),
    )
    value = st.lists(pieces, max_size=5).map("".join)
    return fmt, draw(st.lists(value, min_size=len(fmt.params), max_size=len(fmt.params)))


@given(format_and_values(), st.none() | st.integers(min_value=1, max_value=10**15))
def test_any_values_round_trip_through_build_and_parse(
    case: tuple[TrackerFormat, list[str]], network_id: int | None
) -> None:
    fmt, values = case

    tracker = build_tracker(values, fmt, network_id=network_id)

    assert parse_tracker(tracker, fmt, network_id=network_id) == dict(
        zip(fmt.params, values, strict=True)
    )


@given(format_and_values(), st.integers(min_value=1, max_value=10**15))
def test_built_tracker_leads_to_its_network_id(
    case: tuple[TrackerFormat, list[str]], network_id: int
) -> None:
    fmt, values = case

    tracker = build_tracker(values, fmt, network_id=network_id)

    assert split_network_id(tracker, prefixes=[fmt.prefix]) == (network_id, fmt.prefix)


def test_value_that_would_decode_to_nul_is_kept_as_it_arrived() -> None:
    fmt = TrackerFormat(params=("affid", "clickId"))
    assert parse_tracker("trID_aff%00-c1_trID", fmt) == {"affid": "aff%00", "clickId": "c1"}
