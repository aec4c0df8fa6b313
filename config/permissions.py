"""API scopes (docs/spec.md §5): which token may do what, and how a token is issued.

The database keeps a digest of each token, never the token: a copy of the database, a backup or
the admin's token list holds nothing that authenticates. A token is shown once, when it is made.

A token's scope is the group its user is in: ``api-ingest`` may post and read conversions,
``api-manage`` may also use the management API. Superusers and network admins signed in to the
admin (session authentication) may use both.
"""

import functools
import hashlib
import secrets
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from config.access import user_sees_all
from config.db_rows import RowReader, hot_cursor, table


class Scope(StrEnum):
    INGEST = "ingest"
    MANAGE = "manage"

    @property
    def group_name(self) -> str:
        return f"api-{self.value}"


# The scopes that satisfy each required scope: manage includes ingest.
_GRANTING: dict[Scope, tuple[Scope, ...]] = {
    Scope.INGEST: (Scope.INGEST, Scope.MANAGE),
    Scope.MANAGE: (Scope.MANAGE,),
}


def token_digest(key: str) -> str:
    """What the database keeps of a token: its BLAKE2b digest, 40 hex characters (the width of
    DRF's key column). Tokens are 160 random bits, so a plain digest needs no salt or stretching."""
    return hashlib.blake2b(key.encode(), digest_size=20).hexdigest()


class _TokenRead:
    """One statement for a token: its user's columns, then one flag per scope (the user is in
    the scope's group). Built once from the models' tables; the ORM would compile the same
    query again on every ingest request."""

    def __init__(self) -> None:
        user_model = get_user_model()
        self.user = RowReader(user_model)
        scopes = [
            f"EXISTS (SELECT 1 FROM {table(user_model.groups.through)} m "  # noqa: S608
            f"JOIN {table(Group)} g "
            "ON g.id = m.group_id WHERE m.user_id = u.id AND g.name = %s)"
            for _ in Scope
        ]
        self.sql = (
            f"SELECT {self.user.select_list('u')}, {', '.join(scopes)} "  # noqa: S608
            f"FROM {table(Token)} t "
            f"JOIN {table(user_model)} u ON u.id = t.user_id WHERE t.key = %s"
        )


@functools.cache
def _token_read() -> _TokenRead:
    return _TokenRead()


class ScopedTokenAuthentication(TokenAuthentication):
    """DRF's token scheme, reading the token, its user and the user's scopes in one statement
    (the scope check used to cost a second query on every ingest request)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        read = _token_read()
        digest = token_digest(key)
        with hot_cursor() as cursor:
            cursor.execute(read.sql, [*(scope.group_name for scope in Scope), digest])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user: Any = read.user.read(row[: len(read.user)])
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        flags = row[len(read.user) :]
        user.api_scopes = {scope for scope, held in zip(Scope, flags, strict=True) if held}
        return user, Token(key=digest, user=user)


def _has_scope(request: Request, scope: Scope) -> bool:
    user = request.user
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if isinstance(request.auth, Token):
        granted = getattr(user, "api_scopes", None)
        if granted is not None:
            return any(s in granted for s in _GRANTING[scope])
        names = [granting.group_name for granting in _GRANTING[scope]]
        return user.groups.filter(name__in=names).exists()
    # Signed in to the admin: the API is network-wide, so of the staff only those who see every
    # affiliate may use it (superusers and network admins, config/access.py); an account manager
    # works in the admin, which shows their own affiliates.
    return bool(user.is_staff) and user_sees_all(user)


class HasIngestScope(BasePermission):
    message = "This token may not post or read conversions (it needs the ingest scope)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return _has_scope(request, Scope.INGEST)


class HasManageScope(BasePermission):
    message = "This token may not use the management API (it needs the manage scope)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return _has_scope(request, Scope.MANAGE)


@transaction.atomic
def api_token_issue(*, username: str, scope: Scope) -> str:
    """Give `username` (created when needed) a new token of `scope`, replacing any old one.

    The user is put in exactly the scope's group (a rotated token never keeps a wider scope);
    a manage user is staff, like the account managers who use the management API.
    """
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username, defaults={"is_staff": scope is Scope.MANAGE}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif scope is Scope.MANAGE and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    group, _ = Group.objects.get_or_create(name=scope.group_name)
    other_groups = Group.objects.filter(name__in=[s.group_name for s in Scope if s is not scope])
    user.groups.remove(*other_groups)
    user.groups.add(group)
    Token.objects.filter(user=user).delete()
    key = secrets.token_hex(20)
    Token.objects.create(user=user, key=token_digest(key))
    return key
