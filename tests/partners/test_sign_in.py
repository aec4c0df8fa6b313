"""Signing in to /partner/ by e-mailed link: signed, single use, 15 minutes, one answer for known
and unknown addresses, rate-limited, bound to one affiliate, revocable by the account manager."""

import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail, signing
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from affiliates.invites import invite_token_make
from partners.sign_in import (
    LINK_SALT,
    SEND_LINKS_JOB,
    SignInError,
    SignInMailUnavailable,
    sign_in_link_request,
    sign_in_link_use,
    sign_in_token_make,
)
from postbacks.delivery.rq_queue import get_mail_queue
from tests.affiliates.test_setup_form import redis_away
from tests.factories import AffiliateFactory, UserFactory
from tests.partners.conftest import mailed_link, run_mail_jobs, sign_in

pytestmark = pytest.mark.django_db

ONE_MESSAGE = "This sign-in link cannot be used"


def _without_csrf(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def test_a_known_address_gets_a_link_that_signs_in_once(client, affiliate):
    response = client.post(reverse("partner:sign-in"), {"email": "ACME@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("partner:sign-in-sent")
    assert run_mail_jobs() == 1
    assert mail.outbox[0].to == ["acme@example.com"]
    link = mailed_link()
    # Opening the link (a mail scanner does) does not use it up: only the button's POST does.
    confirm = client.get(link).content.decode()
    assert "Acme Media" in confirm
    assert 'id="sign-out"' not in confirm  # not signed in until the button is pressed
    assert client.post(link).status_code == 302
    page = client.get(reverse("partner:home"))
    assert page.status_code == 200
    assert "Acme Media" in page.content.decode()


def test_known_and_unknown_addresses_get_the_same_answer(client, affiliate):
    known = client.post(reverse("partner:sign-in"), {"email": affiliate.email}, follow=True)
    unknown = client.post(reverse("partner:sign-in"), {"email": "nobody@example.com"}, follow=True)
    assert known.status_code == unknown.status_code == 200
    assert known.redirect_chain == unknown.redirect_chain
    # The pages differ only by the CSRF token, masked afresh for every answer.
    assert _without_csrf(known.content) == _without_csrf(unknown.content)
    assert run_mail_jobs() == 2
    assert len(mail.outbox) == 1


def test_asking_sends_nothing_itself_and_queues_one_job_for_known_and_unknown_alike(
    client, affiliate
):
    for email in (affiliate.email, "nobody@example.com"):
        assert client.post(reverse("partner:sign-in"), {"email": email}).status_code == 302
    # Nothing mailed inside the request: a known address's answer is not slower.
    assert mail.outbox == []
    queue = get_mail_queue()
    known, unknown = queue.get_jobs()
    assert known.func_name == unknown.func_name == SEND_LINKS_JOB
    assert known.args == [[affiliate.pk], "http://testserver", "en"]
    assert unknown.args == [[], "http://testserver", "en"]
    # The job names affiliates by id: the address itself is not written to Redis.
    for job in (known, unknown):
        assert b"example.com" not in queue.connection.hget(job.key, "data")
    run_mail_jobs()
    assert [m.to for m in mail.outbox] == [[affiliate.email]]


@pytest.mark.django_db(transaction=True)
def test_the_delivery_worker_sends_the_queued_sign_in_mail(client):
    affiliate = AffiliateFactory.create(name="Acme Media", email="acme@example.com")
    client.post(reverse("partner:sign-in"), {"email": affiliate.email})
    assert mail.outbox == []
    # The worker `make run` and `make worker` start, as they start it.
    call_command("run_delivery_worker", "--burst", "--no-sweep", stdout=io.StringIO())
    assert get_mail_queue().count == 0
    assert [m.to for m in mail.outbox] == [[affiliate.email]]
    assert client.post(mailed_link()).status_code == 302


def test_while_redis_is_away_no_job_is_queued_and_nobody_is_mailed(affiliate, settings):
    redis_away(settings)
    # Refused alike for a known and an unknown address, and nothing sent inline instead.
    for email in (affiliate.email, "nobody@example.com"):
        with pytest.raises(SignInMailUnavailable):
            sign_in_link_request(email=email, base_url="https://portal.example")
    assert mail.outbox == []


@pytest.mark.parametrize("case", ["used", "expired", "forged", "other_purpose", "changed"])
def test_a_link_that_cannot_be_used_fails_with_one_message(client, affiliate, settings, case):
    token = sign_in_token_make(affiliate=affiliate)
    if case == "used":
        client.post(reverse("partner:sign-in-link", args=[token]))
        client.post(reverse("partner:sign-out"))
    elif case == "expired":
        settings.PARTNER_LINK_MAX_AGE = 1
        time.sleep(2)
    elif case == "forged":
        token = signing.TimestampSigner(salt=LINK_SALT, key="not-our-key").sign_object(
            {"a": affiliate.pk, "n": affiliate.network_id, "k": 0}, compress=True
        )
    elif case == "other_purpose":
        token = invite_token_make(affiliate=affiliate)
    elif case == "changed":
        # A link made for an affiliate whose row now stands for another network id.
        other = AffiliateFactory()
        token = sign_in_token_make(affiliate=other)
        other.network_id += 1000
        other.save()
    for method in (client.get, client.post):
        response = method(reverse("partner:sign-in-link", args=[token]))
        assert response.status_code == 400
        assert ONE_MESSAGE in response.content.decode()
    assert client.get(reverse("partner:home")).status_code == 302


def test_two_clicks_on_one_link_open_one_session(client, affiliate):
    token = sign_in_token_make(affiliate=affiliate)
    url = reverse("partner:sign-in-link", args=[token])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 400


def test_the_session_sees_one_affiliate_and_ends_on_sign_out(client, affiliate):
    sign_in(client, affiliate)
    assert client.get(reverse("partner:home")).status_code == 200
    assert client.post(reverse("partner:sign-out")).status_code == 302
    assert client.get(reverse("partner:home"))["Location"] == reverse("partner:sign-in")


def test_sign_in_links_are_rate_limited_per_address_and_per_client(client, affiliate, settings):
    settings.PARTNER_RATE_LIMIT = {**settings.PARTNER_RATE_LIMIT, "link-email": 2}
    for _ in range(2):
        assert (
            client.post(reverse("partner:sign-in"), {"email": affiliate.email}).status_code == 302
        )
    refused = client.post(reverse("partner:sign-in"), {"email": affiliate.email})
    assert refused.status_code == 429
    assert run_mail_jobs() == 2
    assert len(mail.outbox) == 2
    # The same limit for an unknown address: the limit says nothing about who is known.
    for _ in range(2):
        client.post(reverse("partner:sign-in"), {"email": "nobody@example.com"})
    assert (
        client.post(reverse("partner:sign-in"), {"email": "nobody@example.com"}).status_code == 429
    )
    settings.PARTNER_RATE_LIMIT = {**settings.PARTNER_RATE_LIMIT, "link-client": 6}
    # Other addresses from the same client: the per-client limit (6 uses) has been reached.
    assert (
        client.post(reverse("partner:sign-in"), {"email": "third@example.com"}).status_code == 429
    )


def test_a_manager_sends_a_link_and_revokes_every_session(admin_client, client, affiliate):
    page = admin_client.get(reverse("admin:affiliates_affiliate_change", args=[affiliate.pk]))
    assert reverse("admin:partners_affiliate_access", args=[affiliate.pk]) in page.content.decode()
    url = reverse("admin:partners_affiliate_access", args=[affiliate.pk])
    assert admin_client.get(url).status_code == 200
    admin_client.post(url, {"send": "1", "language": "fr"})
    assert mail.outbox[-1].to == [affiliate.email]
    assert mail.outbox[-1].subject == "Connectez-vous à votre page de postbacks"
    assert client.post(mailed_link()).status_code == 302
    assert client.get(reverse("partner:home")).status_code == 200
    unused = sign_in_token_make(affiliate=affiliate)
    admin_client.post(url, {"revoke": "1"})
    assert client.get(reverse("partner:home")).status_code == 302
    assert client.post(reverse("partner:sign-in-link", args=[unused])).status_code == 400


def test_a_manager_cannot_reach_another_managers_affiliate(client, affiliate):
    manager = UserFactory()
    affiliate.account_manager = UserFactory()
    affiliate.save()
    from django.contrib.auth.models import Permission

    manager.user_permissions.set(Permission.objects.filter(codename__endswith="affiliate"))
    client.force_login(manager)
    url = reverse("admin:partners_affiliate_access", args=[affiliate.pk])
    assert client.post(url, {"revoke": "1"}).status_code in (403, 404)


def test_while_redis_is_away_no_link_is_sent_rather_than_not_counting(client, affiliate, settings):
    redis_away(settings)
    response = client.post(reverse("partner:sign-in"), {"email": affiliate.email})
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_ten_clicks_at_the_same_moment_open_one_session():
    affiliate = AffiliateFactory.create(email="race@example.com")
    token = sign_in_token_make(affiliate=affiliate)
    barrier = threading.Barrier(10)

    def click() -> bool:
        barrier.wait()
        try:
            sign_in_link_use(token=token)
        except SignInError:
            return False
        finally:
            connection.close()
        return True

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: click(), range(10)))
    assert results.count(True) == 1
