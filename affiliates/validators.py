"""The names of an affiliate's tracker params: what the model, the admin, the API and the setup
form accept. Pure: no database."""

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError

TRACKER_PARAM_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
MAX_TRACKER_PARAMS = 20


def tracker_params_validate(*, params: object) -> list[str]:
    """Return the tracker param names as a clean list, or raise naming what is wrong."""
    if params in (None, ""):
        return []
    if isinstance(params, str):
        params = [p.strip() for p in params.split(",") if p.strip()]
    if not isinstance(params, Iterable) or isinstance(params, dict):
        raise ValidationError("Give the tracker params as a list of names, in order.")
    names = list(params)
    if len(names) > MAX_TRACKER_PARAMS:
        raise ValidationError(f"At most {MAX_TRACKER_PARAMS} tracker params are allowed.")
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not re.match(TRACKER_PARAM_PATTERN, name):
            raise ValidationError(
                f"{name!r} is not a valid param name: use letters, digits and _ "
                "(starting with a letter), at most 64 characters."
            )
        if name in seen:
            raise ValidationError(f"The param {name!r} is listed twice.")
        if re.fullmatch(r"p\d+", name):
            raise ValidationError(
                f"{name!r} is reserved for positional macros; choose another name."
            )
        seen.add(name)
    return names
