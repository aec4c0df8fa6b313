"""The commands `make run` relies on: load_demo_data, ensure_admin, demo_receiver."""

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks.dashboard import dashboard_get
from postbacks.models import AttemptHourly, Delivery, PostbackEndpoint

ROOT = Path(__file__).resolve().parents[2]


def _counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "affiliates": Affiliate.objects.count(),
        "offers": Offer.objects.count(),
        "endpoints": PostbackEndpoint.objects.count(),
        "subscriptions": PostbackEndpoint.event_types.through.objects.count(),
    }


@pytest.mark.django_db
def test_load_demo_data_twice_leaves_the_same_rows() -> None:
    call_command("load_demo_data", stdout=StringIO())
    first = _counts()
    out = StringIO()
    call_command("load_demo_data", stdout=out)

    assert _counts() == first
    assert "created nothing" in out.getvalue()


@pytest.mark.django_db
def test_load_demo_data_gives_both_offer_kinds_and_live_valid_endpoints() -> None:
    call_command("load_demo_data", stdout=StringIO())

    assert {offer.kind for offer in Offer.objects.all()} == {Offer.Kind.PPS, Offer.Kind.REVSHARE}
    assert Affiliate.objects.filter(account_manager__is_staff=True).exists()
    endpoints = list(PostbackEndpoint.objects.all())
    assert {e.method for e in endpoints} == {"GET", "POST"}
    assert any(e.offer_id is None for e in endpoints)
    assert any(e.offer_id is not None for e in endpoints)
    for endpoint in endpoints:
        endpoint.full_clean()
        assert endpoint.status == PostbackEndpoint.Status.LIVE
        assert endpoint.url_template.startswith("http://127.0.0.1:8001/postback?")
        assert endpoint.event_types.exists()


@pytest.mark.django_db
def test_the_demo_affiliates_all_offers_endpoint_hears_of_reversals_in_its_words() -> None:
    call_command("load_demo_data", stdout=StringIO())

    endpoint = PostbackEndpoint.objects.get(affiliate__network_id=1234567, offer=None, method="GET")
    assert endpoint.fire_on == ["approved", "reversed"]
    assert endpoint.status_values == {"approved": "sale", "reversed": "refund"}
    assert "{status}" in endpoint.url_template and "{signed_amount}" in endpoint.url_template
    others = PostbackEndpoint.objects.exclude(pk=endpoint.pk)
    assert {tuple(e.fire_on) for e in others} == {("approved",)}


@pytest.mark.django_db
def test_load_demo_data_restores_a_demo_record_that_was_edited() -> None:
    call_command("load_demo_data", stdout=StringIO())
    PostbackEndpoint.objects.update(status=PostbackEndpoint.Status.DISABLED)
    Offer.objects.filter(network_offer_id=66013).update(name="renamed")

    call_command("load_demo_data", stdout=StringIO())

    assert not PostbackEndpoint.objects.exclude(status=PostbackEndpoint.Status.LIVE).exists()
    assert Offer.objects.get(network_offer_id=66013).name == "LiveCams Gold"


@pytest.mark.django_db
def test_ensure_admin_creates_the_superuser_once_and_prints_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    out = StringIO()
    call_command("ensure_admin", stdout=out)

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.email == "admin@localhost"
    password = out.getvalue().split("password: ")[1].split()[0]
    assert admin.check_password(password)

    again = StringIO()
    call_command("ensure_admin", stdout=again)

    assert get_user_model().objects.filter(username="admin").count() == 1
    assert "already exists" in again.getvalue()
    assert "changepassword admin" in again.getvalue()
    assert password not in again.getvalue()
    admin.refresh_from_db()
    assert admin.check_password(password)


@pytest.mark.django_db
def test_ensure_admin_takes_the_password_from_admin_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADMIN_PASSWORD", "scripted-pass-123")
    out = StringIO()
    call_command("ensure_admin", stdout=out)

    assert get_user_model().objects.get(username="admin").check_password("scripted-pass-123")
    assert "scripted-pass-123" not in out.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_receiver_prints_a_postback_answers_ok_and_stops_on_sigterm() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    receiver = subprocess.Popen(
        [sys.executable, "manage.py", "demo_receiver", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        assert "listening" in receiver.stdout.readline()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/postback?tx=tx-1001&cid=a%26b%20c",
            data=b"amount=35.00&event=signup",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
            assert response.read() == b"OK"
    finally:
        receiver.send_signal(signal.SIGTERM)
        output, _ = receiver.communicate(timeout=10)

    assert receiver.returncode == 0
    assert "postback received: POST /postback" in output
    assert "query cid = 'a&b c'" in output
    assert "form  amount = '35.00'" in output
    assert "demo receiver stopped" in output


@pytest.mark.django_db
def test_load_demo_traffic_gives_the_dashboard_a_day_with_a_few_failures_due_again() -> None:
    call_command("load_demo_data", stdout=StringIO())
    out = StringIO()
    call_command("load_demo_traffic", stdout=out)
    assert "3 failed, due again" in out.getvalue()

    hours = set(AttemptHourly.objects.values_list("hour", flat=True))
    assert len(hours) >= 20
    failed = Delivery.objects.filter(state=Delivery.State.FAILED)
    assert 1 <= failed.count() <= 5
    assert all(d.next_attempt_at is not None for d in failed)
    assert Delivery.objects.filter(state=Delivery.State.PENDING).exists()  # for the worker
    assert not PostbackEndpoint.objects.exclude(status=PostbackEndpoint.Status.LIVE).exists()
    assert dashboard_get(manager_id=None, use_cache=False).hourly.totals["succeeded"] > 0
    again = StringIO()
    call_command("load_demo_traffic", stdout=again)
    assert "Demo traffic: 0 conversions" in again.getvalue()
