"""The URL as the affiliate's page shows it: every query value whose name says it is a secret or a
signature is replaced, so a page (or a screenshot of it) never carries one.

Pure: the name rule below, applied to the query and to user:password in the address.
"""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
SECRET_WORDS = ("secret", "signature", "sig", "token", "key", "password", "pass", "hash", "auth")


def _is_secret(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return any(
        lowered == word or lowered.endswith("_" + word) or lowered.startswith(word + "_")
        for word in SECRET_WORDS
    ) or lowered in ("apikey", "api_key", "hmac")


def url_redact(url: str, *, keep_macros: bool = False) -> str:
    """The URL with secret-named query values and any user:password replaced by REDACTED.

    ``keep_macros``: for a URL template, a value that is one macro (``sig={signature}``) says
    where a secret goes, not what it is, and stays.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)

    def hidden(name: str, value: str) -> bool:
        is_macro = value.startswith("{") and value.endswith("}") and value.count("{") == 1
        return _is_secret(name) and not (keep_macros and is_macro)

    if not any(hidden(name, value) for name, value in pairs) and netloc == parts.netloc:
        return url
    query = urlencode(
        [(name, REDACTED if hidden(name, value) else value) for name, value in pairs],
        safe="[]{}",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
