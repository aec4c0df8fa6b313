"""The admin login lockout (django-axes, issue 6): AXES_FAILURE_LIMIT wrong passwords for one
username from one address lock that pair out for the cool-off, with a clear 429 page.

Time passes by moving the recorded attempts back, as the clock would; nothing sleeps.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axes.exceptions import AxesBackendRequestParameterRequired
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import F
from django.http import HttpRequest
from django.test import Client

from config.lockout import client_ip
from tests.config.processes import MANAGE, clean_env, run

pytestmark = pytest.mark.django_db

LOGIN_URL = "/admin/login/?next=/admin/"
PASSWORD = "the-right-password-41"
ATTACKER = "203.0.113.9"
OFFICE = "198.51.100.7"


@pytest.fixture
def manager() -> User:
    return User.objects.create_user(
        username="manager", email="manager@network.example", password=PASSWORD, is_staff=True
    )


def log_in(client: Client, password: str, *, username: str = "manager", ip: str = ATTACKER) -> Any:
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def lock_out(client: Client, *, username: str = "manager", ip: str = ATTACKER) -> Any:
    """Fail AXES_FAILURE_LIMIT times; returns the answer to the last try."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        answer = log_in(client, "wrong", username=username, ip=ip)
    return answer


def age_attempts(by: timedelta) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - by)


def test_the_defaults_are_five_tries_and_fifteen_minutes_per_username_and_address():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AXES_HTTP_RESPONSE_CODE == 429


def test_wrong_passwords_below_the_limit_get_the_login_form_again(client, manager):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        answer = log_in(client, "wrong")
        assert answer.status_code == 200
        assert "Please enter the correct username and password" in answer.content.decode()


def test_the_last_allowed_wrong_password_locks_the_account_out_with_a_clear_429(client, manager):
    answer = lock_out(client)
    assert answer.status_code == 429
    assert answer["Retry-After"] == str(15 * 60)
    body = answer.content.decode()
    assert 'id="lockout-message"' in body
    assert "Too many failed logins" in body
    assert "blocked for 15 minutes, even with the right" in body


def test_a_locked_out_login_is_refused_even_with_the_right_password(client, manager):
    lock_out(client)
    answer = log_in(client, PASSWORD)
    assert answer.status_code == 429
    assert "Too many failed logins" in answer.content.decode()
    assert not logged_in(client)
    assert client.get("/admin/", REMOTE_ADDR=ATTACKER).status_code == 302


def test_the_lock_lifts_once_the_cool_off_has_passed(client, manager):
    lock_out(client)
    age_attempts(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
    answer = log_in(client, PASSWORD)
    assert answer.status_code == 302
    assert answer["Location"] == "/admin/"
    assert logged_in(client)


def test_a_try_during_the_lockout_is_refused_and_starts_the_cool_off_again(client, manager):
    lock_out(client)
    age_attempts(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
    assert log_in(client, PASSWORD).status_code == 429
    age_attempts(timedelta(minutes=2))
    assert log_in(client, PASSWORD).status_code == 429
    age_attempts(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
    assert log_in(client, PASSWORD).status_code == 302


def test_an_operator_lifts_a_lock_with_axes_reset_username(client, manager):
    lock_out(client)
    call_command("axes_reset_username", "manager")
    assert log_in(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_a_successful_login_resets_the_count(client, manager):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 302
    client.post("/admin/logout/", REMOTE_ADDR=ATTACKER)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200
    assert log_in(client, PASSWORD).status_code == 302


def test_the_same_username_from_another_address_is_not_locked(client, manager):
    lock_out(client, ip=ATTACKER)
    assert log_in(client, PASSWORD, ip=OFFICE).status_code == 302
    assert logged_in(client)


def test_another_username_from_the_same_address_is_not_locked(client, manager):
    User.objects.create_user(username="colleague", password=PASSWORD, is_staff=True)
    lock_out(client, ip=OFFICE)
    assert log_in(client, PASSWORD, username="colleague", ip=OFFICE).status_code == 302
    assert logged_in(client)


def test_an_unknown_username_is_locked_out_like_a_real_one(client):
    """The lockout tells an attacker nothing about which usernames exist."""
    assert lock_out(client, username="nobody").status_code == 429


def test_behind_a_proxy_the_lock_counts_the_address_in_setup_client_ip_header(
    client, manager, settings
):
    settings.SETUP_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    proxy = "10.0.0.2"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        answer = client.post(
            LOGIN_URL,
            {"username": "manager", "password": "wrong"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"192.0.2.1, {ATTACKER}",
        )
    assert answer.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    colleague = client.post(
        LOGIN_URL,
        {"username": "manager", "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=OFFICE,
    )
    assert colleague.status_code == 302


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"REMOTE_ADDR": "203.0.113.9"}, "203.0.113.9"),
        ({"REMOTE_ADDR": "2001:db8::1"}, "2001:db8::1"),
        ({}, None),
        ({"REMOTE_ADDR": "not-an-address"}, None),
    ],
)
def test_client_ip_is_an_ip_address_or_none(meta, expected):
    request = HttpRequest()
    request.META.update(meta)
    assert client_ip(request) == expected


def test_a_lock_is_listed_in_the_admin_for_a_network_admin_to_lift(client, admin_client, manager):
    lock_out(client)
    listing = admin_client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "manager" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="manager")
    deleted = admin_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert log_in(client, PASSWORD).status_code == 302


def test_client_login_in_a_test_passes_a_request_as_axes_needs(client, manager):
    """Django's client.login() authenticates without a request, which the axes backend refuses;
    tests that log in that way hand it one (most tests use force_login, which axes leaves be)."""
    with pytest.raises(AxesBackendRequestParameterRequired):
        client.login(username="manager", password=PASSWORD)
    assert client.login(request=HttpRequest(), username="manager", password=PASSWORD) is True


def test_axes_migrations_apply_on_sqlite_as_make_run_uses(tmp_path: Path):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}",
    )
    migrate = run([MANAGE, "migrate", "axes", "--noinput"], env)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    listed = run([MANAGE, "showmigrations", "axes"], env)
    assert listed.returncode == 0, listed.stderr
    assert "[ ]" not in listed.stdout
    assert "[X] 0010_accessattemptexpiration" in listed.stdout
