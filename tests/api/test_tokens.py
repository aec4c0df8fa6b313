"""create_api_token (docs/spec.md §5): creates the user if needed, rotates its key, prints only the
key; the database keeps only the key's digest (issue 6)."""

import io
import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework.authtoken.models import Token

from config.permissions import token_digest
from tests.api.conftest import CONVERSIONS_URL, World, issue_token, token_client

pytestmark = pytest.mark.django_db


def test_prints_only_the_key(db: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "crm", "--scope", "ingest", stdout=out, stderr=err)
    assert re.fullmatch(r"[0-9a-f]{40}\n", out.getvalue())
    assert err.getvalue() == ""
    assert Token.objects.get(user__username="crm").key == token_digest(out.getvalue().strip())


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


def test_the_database_holds_no_working_key(world: World) -> None:
    key = issue_token("crm", "ingest")
    stored = Token.objects.get(user__username="crm").key
    assert stored != key
    assert token_client(key).get(CONVERSIONS_URL + "1/").status_code == 404
    # What a database dump or backup would show does not authenticate.
    assert token_client(stored).get(CONVERSIONS_URL + "1/").status_code == 401


def test_token_admin_shows_whose_token_and_no_key(admin_client: Any) -> None:
    key = issue_token("crm", "ingest")
    user = User.objects.get(username="crm")
    listing = admin_client.get(reverse("admin:authtoken_tokenproxy_changelist")).content.decode()
    assert "crm" in listing
    assert key not in listing
    assert Token.objects.get(user=user).key not in listing
    assert admin_client.get(reverse("admin:authtoken_tokenproxy_add")).status_code == 403
    revoke = reverse("admin:authtoken_tokenproxy_delete", args=[user.pk])
    assert admin_client.post(revoke, {"post": "yes"}).status_code == 302
    assert token_client(key).get(CONVERSIONS_URL + "1/").status_code == 401


def test_migration_turns_existing_keys_into_digests(db: Any) -> None:
    """Tokens handed out before keys were hashed keep working after migrate."""
    executor = MigrationExecutor(connection)
    executor.migrate([("affiliates", "0003_permission_groups")])
    user = User.objects.create(username="old-system")
    user.groups.add(Group.objects.get_or_create(name="api-ingest")[0])
    old_key = "a" * 40
    Token.objects.create(user=user, key=old_key)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Token.objects.get(user=user).key == token_digest(old_key)
    assert token_client(old_key).get(CONVERSIONS_URL + "1/").status_code == 404
