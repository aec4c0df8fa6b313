"""create_api_token (SPEC §5): creates the user if needed, rotates its key, prints only the key."""

import io
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from tests.api.conftest import CONVERSIONS_URL, World, issue_token, token_client

pytestmark = pytest.mark.django_db


def test_prints_only_the_key(db: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "crm", "--scope", "ingest", stdout=out, stderr=err)
    assert re.fullmatch(r"[0-9a-f]{40}\n", out.getvalue())
    assert err.getvalue() == ""
    assert Token.objects.get(user__username="crm").key == out.getvalue().strip()


def test_ingest_user_is_not_staff_and_in_the_ingest_group(db: Any) -> None:
    issue_token("crm", "ingest")
    user = User.objects.get(username="crm")
    assert not user.is_staff
    assert not user.has_usable_password()
    assert list(user.groups.values_list("name", flat=True)) == ["api-ingest"]


def test_manage_user_is_staff_and_in_the_manage_group(db: Any) -> None:
    issue_token("am-bot", "manage")
    user = User.objects.get(username="am-bot")
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["api-manage"]


def test_each_call_rotates_the_key(world: World) -> None:
    first = issue_token("crm", "ingest")
    second = issue_token("crm", "ingest")
    assert first != second
    assert token_client(first).get(CONVERSIONS_URL + "1/").status_code == 401
    assert Token.objects.filter(user__username="crm").count() == 1


def test_new_scope_replaces_the_old_one(world: World) -> None:
    manage_key = issue_token("bot", "manage")
    assert token_client(manage_key).get("/api/v1/offers/").status_code == 200
    ingest_key = issue_token("bot", "ingest")
    assert token_client(ingest_key).get("/api/v1/offers/").status_code == 403
    groups = User.objects.get(username="bot").groups.values_list("name", flat=True)
    assert list(groups) == ["api-ingest"]


def test_existing_user_keeps_its_password(db: Any) -> None:
    user = User.objects.create_user(username="alice", password="s3cret-pass")
    issue_token("alice", "manage")
    user.refresh_from_db()
    assert user.check_password("s3cret-pass")
    assert user.is_staff


def test_scope_is_required_and_checked(db: Any) -> None:
    with pytest.raises(CommandError):
        call_command("create_api_token", "crm", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("create_api_token", "crm", "--scope", "root", stdout=io.StringIO())
    assert not User.objects.exists()


def test_invalid_username_is_refused(db: Any) -> None:
    with pytest.raises(CommandError, match="Invalid username"):
        call_command("create_api_token", "no spaces!", "--scope", "ingest", stdout=io.StringIO())
    assert not User.objects.exists()
