"""How every API view reads its input: the JSON parser and the paginator, both bounded; and the
content negotiation that picks the JSON renderer.

Kept apart from config/api.py: DRF resolves DEFAULT_PARSER_CLASSES while rest_framework.views is
imported, so this module must not import it.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.utils.json import strict_constant

# ------------------------------------------------------------------------------
# Parsing
# ------------------------------------------------------------------------------

# No body of ours nests deeper than a batch of conversions ({"conversions": [{...}]}); the bound
# leaves room for clients that wrap, and stays far below the depth where the decoder recurses out.
JSON_MAX_DEPTH = 32
_TOO_DEEP = (
    f"The JSON nests arrays or objects more than {JSON_MAX_DEPTH} levels deep; "
    "no field of this API needs that many."
)


def json_depth_exceeds(data: Any, limit: int) -> bool:
    """True when decoded JSON holds arrays or objects more than `limit` levels inside one another.

    Walked level by level over containers only, without recursion: a batch of 1000 conversions
    costs about half a millisecond (a regex pass over the text to skip strings cost 14 ms).
    """
    level = [data] if isinstance(data, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        children: list[Any] = []
        for node in level:
            values = node.values() if isinstance(node, dict) else node
            children.extend(value for value in values if isinstance(value, dict | list))
        level = children
    return False


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise exceptions.ParseError(
                    f'The key "{key[:64]}" appears twice in one object; send each key once.'
                )
            seen.add(key)
    return obj


class StrictJSONParser(JSONParser):
    """JSON with a nesting bound and no repeated keys, each refused with a 400 that says so.

    Python's decoder recurses per level (a 2 KB body of nested arrays raised RecursionError, a
    500), and
    with repeated keys the last one silently wins, so the stored value may not be the one a
    reviewer of the body sees.
    """

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(
                f"The body is not valid {encoding} text (byte {exc.start}); send UTF-8 JSON."
            ) from exc
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=strict_constant)
        except RecursionError as exc:
            # The decoder gives up near the interpreter's recursion limit (about 1000 levels).
            raise exceptions.ParseError(_TOO_DEEP) from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        if json_depth_exceeds(data, JSON_MAX_DEPTH):
            raise exceptions.ParseError(_TOO_DEEP)
        return data


# ------------------------------------------------------------------------------
# Pagination
# ------------------------------------------------------------------------------


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`limit` and `offset` with bounds: a value beyond them is a 400 naming the parameter,
    never a silent clamp or a number the database cannot hold."""

    default_limit = settings.API_PAGE_SIZE
    max_limit = settings.API_PAGE_MAX_LIMIT
    max_offset = settings.API_PAGE_MAX_OFFSET

    def _bounded(self, request: Request, name: str, default: int, low: int, high: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
            raise exceptions.ValidationError(
                {name: [f"Give a whole number from {low} to {high}; got {raw[:32]!r}."]}
            )
        return int(raw)

    def get_limit(self, request: Request) -> int:
        return self._bounded(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return self._bounded(request, self.offset_query_param, 0, 0, self.max_offset)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class JsonNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, without its work for the answer nearly every client asks for:
    with JSON the only renderer and an Accept of */* (or none) or application/json, it picks
    what DRF's would, at once (parsing the header was a twenty-fifth of a single ingest's
    Python). Any other header, a format override or more renderers: DRF's own rules."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        listed = list(renderers)
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if (
            accept in _PLAIN_ACCEPTS
            and format_suffix is None
            and len(listed) == 1
            and type(listed[0]) is JSONRenderer
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return listed[0], listed[0].media_type
        return super().select_renderer(request, listed, format_suffix)


_PLAIN_ACCEPTS = frozenset({"*/*", "application/json"})
