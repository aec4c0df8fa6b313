"""Receiver presets: how the common trackers want their postbacks, as data (pure, no Django).

Each preset is what its vendor's public postback document says (``doc_url``): the path and
parameter names after the tracker's domain, the tracker's own click-id macro (what the affiliate
puts in its offer links so the click id comes back in the tracker), how it spells each status,
which statuses it can take (``fire_on``), what it dedupes on, and whether it needs a key.

In a preset's ``path``, ``{click}`` stands for the affiliate's tracker param that holds the click
id and ``{key}`` for the tracker's postback key; every other brace is a macro of
postbacks/macros.py. ``preset_render`` checks the domain and key and fills both in.

The ids are dedupe-safe: a receiver that dedupes on (click, transaction id) gets an id that
differs per event (``{transaction_id}-{event}``, so a later status of the same sale updates its
conversion) or per event and status (``{postback_id}``, so each status is a conversion of its own).
"""

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna
from django.utils.translation import gettext

from postbacks import lifecycle

CLICK = "{click}"
KEY = "{key}"
DEFAULT_CLICK_PARAM = "clickId"
MAX_DOMAIN_LENGTH = 253
MAX_KEY_LENGTH = 128
_KEY = re.compile(r"[A-Za-z0-9._~-]+")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# Hosts that resolvers read as IPv4 addresses: 2130706433, 0x7f.1, 10.0.0.1.
_NUMERIC = re.compile(r"^(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}\.?$", re.IGNORECASE)
_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".lan", ".home.arpa")


class PresetError(ValueError):
    """A domain or key a preset cannot use; ``str()`` is for the person who typed it and
    ``field`` names the input (``domain``, ``key`` or ``preset``)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class ReceiverPreset:
    code: str
    name: str
    path: str
    click_macro: str
    dedupe_key: str
    doc_url: str
    fire_on: tuple[str, ...] = (lifecycle.APPROVED,)
    status_values: tuple[tuple[str, str], ...] = ()
    needs_key: bool = False
    key_label: str = ""
    note: str = ""
    scheme: str = "https"

    @property
    def status_map(self) -> dict[str, str]:
        return dict(self.status_values)


PRESETS: tuple[ReceiverPreset, ...] = (
    ReceiverPreset(
        code="voluum",
        name="Voluum",
        path="/postback?cid={click}&payout={amount}&txid={postback_id}&currency={currency}",
        click_macro="{clickid}",
        dedupe_key="cid and txid: a conversion per click and transaction id",
        doc_url="https://doc.voluum.com/article/parameters-in-postback-urls",
        note="Voluum records conversions, not statuses: approved sales only.",
    ),
    ReceiverPreset(
        code="keitaro",
        name="Keitaro",
        path="/{key}/postback?subid={click}&status={status}&payout={amount}"
        "&tid={transaction_id}-{event}&currency={currency}",
        click_macro="{subid}",
        dedupe_key="subid and tid: a later status with the same tid updates the conversion",
        doc_url="https://docs.keitaro.io/en/conversions-and-postback/postback.html",
        fire_on=lifecycle.STATUSES,
        status_values=(
            (lifecycle.PENDING, "lead"),
            (lifecycle.APPROVED, "sale"),
            (lifecycle.REJECTED, "rejected"),
            (lifecycle.REVERSED, "rejected"),
        ),
        needs_key=True,
        key_label="Postback key (Maintenance > Postback URL)",
    ),
    ReceiverPreset(
        code="binom",
        name="Binom",
        path="/click.php?cnv_id={click}&payout={amount}&cnv_status={status}"
        "&cnv_status2={event}&cnv_currency={currency}",
        click_macro="{clickid}",
        dedupe_key="cnv_id: one conversion per click, whose status and payout a later postback "
        "updates",
        doc_url="https://docs.binom.org/postback-url.php",
        fire_on=lifecycle.STATUSES,
    ),
    ReceiverPreset(
        code="redtrack",
        name="RedTrack",
        path="/postback?clickid={click}&sum={amount}&type={event}&status={status}"
        "&rdtk_event_id={postback_id}",
        click_macro="{clickid}",
        dedupe_key="clickid, or rdtk_event_id with the duplicate mode 'Ignore duplicate postbacks "
        "by event id'",
        doc_url="https://help.redtrack.io/knowledgebase/kb/basic-setup-9785/tracking-conversions/"
        "tracking-event-types",
        fire_on=(lifecycle.PENDING, lifecycle.APPROVED, lifecycle.REJECTED),
        status_values=(
            (lifecycle.PENDING, "Pending"),
            (lifecycle.APPROVED, "Approved"),
            (lifecycle.REJECTED, "Declined"),
            (lifecycle.REVERSED, "Declined"),
        ),
        note="Add each event code (signup, trial, ...) as a conversion type in RedTrack.",
    ),
    ReceiverPreset(
        code="bemob",
        name="BeMob",
        path="/postback?cid={click}&payout={amount}&txid={transaction_id}-{event}&status={status}",
        click_macro="{cid}",
        dedupe_key="cid and txid: a later status with the same txid updates the conversion",
        doc_url="https://help.bemob.com/docs/using-postback-statuses",
        fire_on=lifecycle.STATUSES,
        status_values=(
            (lifecycle.PENDING, "pending"),
            (lifecycle.APPROVED, "approved"),
            (lifecycle.REJECTED, "declined"),
            (lifecycle.REVERSED, "declined"),
        ),
        note="Tick 'Use conversion statuses' on the affiliate network in BeMob and enter these "
        "words.",
    ),
    ReceiverPreset(
        code="prosper202",
        name="Prosper202",
        path="/tracking202/static/gpb.php?amount={signed_amount}&subid={click}"
        "&t202txid={postback_id}",
        click_macro="[[subid]]",
        dedupe_key="subid and t202txid: each id is one conversion",
        doc_url="https://github.com/lawkapala01/prosper202",
        fire_on=(lifecycle.APPROVED, lifecycle.REVERSED),
        note="A reversal is sent as its own conversion with a negative amount.",
    ),
    ReceiverPreset(
        code="funnelflux",
        name="FunnelFlux Pro",
        path="/pb/?hit={click}&tx={postback_id}&rev={signed_amount}",
        click_macro="{hit}",
        dedupe_key="hit and tx: each transaction id is one conversion",
        doc_url="https://help.funnelflux.pro/en/article/tracking-conversions-1vtfnp5/",
        fire_on=(lifecycle.APPROVED, lifecycle.REVERSED),
        note="A reversal is sent as its own conversion with negative revenue.",
    ),
)

_BY_CODE: Mapping[str, ReceiverPreset] = {preset.code: preset for preset in PRESETS}


def preset_get(code: str) -> ReceiverPreset:
    try:
        return _BY_CODE[code]
    except KeyError:
        known = ", ".join(_BY_CODE)
        raise PresetError(
            "preset",
            gettext("unknown tracker %(code)r; known: %(known)s") % {"code": code, "known": known},
        ) from None


@dataclass(frozen=True)
class RenderedPreset:
    """What a preset fills in: the URL template, the status words and the statuses it fires on."""

    url_template: str
    status_values: dict[str, str]
    fire_on: list[str]


def _host_of(domain: str) -> tuple[str, str]:
    """(scheme, host[:port]) of what was typed: a bare domain, or one with http(s)://."""
    text = domain.strip()
    if not text:
        raise PresetError("domain", gettext("enter your tracker's domain, e.g. track.example.com"))
    if any(char.isspace() or not char.isprintable() for char in text):
        raise PresetError(
            "domain", gettext("the domain contains a space or an invisible character")
        )
    scheme = ""
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme.lower() not in ("http", "https"):
            raise PresetError(
                "domain",
                gettext("the domain must be reached over http or https, not %(scheme)s://")
                % {"scheme": scheme},
            )
        scheme = scheme.lower()
    if text.endswith("/") and text.count("/") == 1:
        text = text[:-1]  # "track.example.com/" as copied from a browser's address bar
    if any(mark in text for mark in "/?#\\"):
        raise PresetError(
            "domain",
            gettext(
                "give the domain only, e.g. track.example.com, without a path, ? or #: the "
                "preset adds the path"
            ),
        )
    if "@" in text:
        raise PresetError(
            "domain", gettext("the domain cannot hold a user name or password (user@)")
        )
    return scheme, text


def _check_host(host: str) -> str:
    try:
        parts = urlsplit(f"//{host}")
        name = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        raise PresetError(
            "domain", gettext("%(host)r is not a valid domain[:port]") % {"host": host}
        ) from exc
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is not None or _NUMERIC.match(name):
        if address is not None and not address.is_global:
            raise PresetError(
                "domain",
                gettext(
                    "%(name)s is a private or reserved address; postbacks go to public "
                    "addresses only"
                )
                % {"name": name},
            )
        raise PresetError(
            "domain",
            gettext("%(name)s is a numeric address: give your tracker's domain name instead")
            % {"name": name},
        )
    lowered = name.lower()
    if lowered == "localhost" or lowered.endswith(_LOCAL_NAMES):
        raise PresetError(
            "domain",
            gettext("%(name)s is a local name; postbacks go to public addresses only")
            % {"name": name},
        )
    try:
        ascii_name = lowered if lowered.isascii() else idna.encode(lowered, uts46=True).decode()
    except idna.IDNAError as exc:
        raise PresetError(
            "domain", gettext("%(name)r is not a valid domain name") % {"name": name}
        ) from exc
    labels = ascii_name.rstrip(".").split(".")
    if (
        len(ascii_name) > MAX_DOMAIN_LENGTH
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
    ):
        raise PresetError(
            "domain",
            gettext("%(name)r is not a domain name such as track.example.com") % {"name": name},
        )
    return host


def _check_key(preset: ReceiverPreset, key: str) -> str:
    key = (key or "").strip()
    if not preset.needs_key:
        return ""
    if not key:
        raise PresetError(
            "key",
            gettext("%(tracker)s needs its postback key: %(key)s")
            % {"tracker": preset.name, "key": preset.key_label},
        )
    if any(char.isspace() for char in key):
        raise PresetError("key", gettext("the key contains a space: copy it again without spaces"))
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise PresetError(
            "key",
            gettext("the key may hold only letters, digits and - . _ ~ (as your tracker shows it)"),
        )
    return key


def preset_render(
    preset: ReceiverPreset,
    domain: str,
    key: str = "",
    *,
    click_param: str = DEFAULT_CLICK_PARAM,
) -> RenderedPreset:
    """The template and status map `preset` gives for a tracker at `domain` (and `key`), with the
    click id from the tracker param `click_param`. Raises PresetError naming the input."""
    typed_scheme, host = _host_of(domain)
    host = _check_host(host)
    key = _check_key(preset, key)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", click_param or ""):
        raise PresetError(
            "click_param", gettext("choose the tracker param that holds the click id")
        )
    path = preset.path.replace(CLICK, "{" + click_param + "}").replace(KEY, key)
    return RenderedPreset(
        url_template=f"{typed_scheme or preset.scheme}://{host}{path}",
        status_values=preset.status_map,
        fire_on=list(preset.fire_on),
    )


# ------------------------------------------------------------------------------
# Dedupe-safe ids
# ------------------------------------------------------------------------------
_PER_POSTBACK = ("{postback_id}", "{transaction_id}-{event}", "{transaction_id}_{event}")


def dedupe_warning(*, url_template: str, event_codes: Sequence[str], fire_on: Sequence[str]) -> str:
    """A warning (never a refusal) when the template's only id is ``{transaction_id}`` and the
    endpoint hears of several events or statuses of one sale: a receiver that dedupes on it keeps
    the first and silently drops the rest. Empty when there is nothing to say."""
    if "{transaction_id}" not in url_template:
        return ""
    if any(marker in url_template for marker in _PER_POSTBACK):
        return ""
    if len(set(event_codes)) < 2 and len(set(fire_on)) < 2:
        return ""
    return (
        "This template sends {transaction_id} alone, but the endpoint hears of several events "
        "or statuses of one sale: a receiver that dedupes on that id (Prosper202, Voluum, "
        "FunnelFlux ...) records the first and drops the rest. Use {postback_id} (one id per "
        "event and status) or {transaction_id}-{event} (one per event; a later status updates "
        "it) instead."
    )
