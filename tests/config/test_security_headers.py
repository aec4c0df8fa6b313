"""Security headers (issue 6): the Content-Security-Policy, X-Frame-Options, nosniff,
Referrer-Policy and Cross-Origin-Opener-Policy on the portal's own pages, the same in every
environment; and no inline script, handler or style left in its HTML for the policy to refuse.
(HSTS is production's: tests/config/test_settings.py.)"""

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.factories import AffiliateFactory, PostbackEndpointFactory, SetupRequestFactory

STRICT_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
OTHER_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def policy(response: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: sources} (its order is not fixed)."""
    directives = [part.split() for part in response["Content-Security-Policy"].split(";")]
    return {name: sources for name, *sources in directives}


def assert_hardened(response: Any) -> None:
    assert policy(response) == STRICT_POLICY
    for header, value in OTHER_HEADERS.items():
        assert response[header] == value, header


@pytest.mark.django_db
def test_the_admin_login_page_sends_the_strict_policy_and_headers(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert_hardened(response)


@pytest.mark.django_db
def test_the_admin_dashboard_sends_the_strict_policy_and_headers(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert_hardened(response)


@pytest.mark.django_db
def test_an_endpoint_change_page_sends_the_strict_policy_and_headers(admin_client):
    endpoint = PostbackEndpointFactory.create()
    response = admin_client.get(f"/admin/postbacks/postbackendpoint/{endpoint.pk}/change/")
    assert response.status_code == 200
    assert_hardened(response)


@pytest.mark.django_db
def test_the_setup_form_and_its_preview_send_the_strict_policy_and_headers(client):
    page = client.get("/setup/")
    assert page.status_code == 200
    assert_hardened(page)
    preview = client.post("/setup/preview/", {"network_id": "1"})
    assert preview.status_code == 200
    assert_hardened(preview)


@pytest.mark.django_db
def test_the_api_docs_send_the_strict_policy_and_load_their_init_script_from_a_url(
    admin_client,
):
    page = admin_client.get("/api/docs/")
    assert page.status_code == 200
    assert_hardened(page)
    html = page.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(" src=" in tag for tag in scripts)
    assert "<style" not in html
    assert '<script src="/api/docs/?script="></script>' in html
    init = admin_client.get("/api/docs/?script=")
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in init.content.decode()


@pytest.mark.django_db
def test_the_lockout_page_sends_the_strict_policy(client):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/admin/login/", {"username": "x", "password": "wrong"})
    assert response.status_code == 429
    assert_hardened(response)


@pytest.mark.django_db
def test_the_rq_dashboard_alone_may_use_inline_scripts_and_styles(admin_client):
    """django-rq's pages carry inline scripts and styles; only their URLs are relaxed."""
    response = admin_client.get("/admin/rq/")
    assert response.status_code == 200
    relaxed = {
        **STRICT_POLICY,
        "script-src": ["'self'", "'unsafe-inline'"],
        "style-src": ["'self'", "'unsafe-inline'"],
    }
    assert policy(response) == relaxed
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_admin_pages_that_replaced_inline_styles_use_the_portal_stylesheet(admin_client):
    affiliate = AffiliateFactory.create()
    review = SetupRequestFactory.create()
    for url in (
        f"/admin/affiliates/affiliate/{affiliate.pk}/change/",
        f"/admin/affiliates/affiliate/{affiliate.pk}/invite/",
        f"/admin/affiliates/setuprequest/{review.pk}/change/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "/static/portal/admin.css" in html, url
        assert not re.search(r"\sstyle=|\son[a-z]+=", html), url


# What the policy refuses, as it appears in HTML (tags may span lines).
INLINE = {
    "an inline script": re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>"),
    "a <style> element": re.compile(r"<style[\s>]"),
    "a style attribute": re.compile(r"<[a-zA-Z][^>]*\sstyle="),
    "an event handler attribute": re.compile(r"<[a-zA-Z][^>]*\son[a-z]+="),
    "a javascript: URL": re.compile(r"""(?:href|src|action)=["']?javascript:""", re.IGNORECASE),
}


def _sources() -> list[Path]:
    """Our templates, and the Python that writes HTML (format_html in admin classes...)."""
    base = Path(settings.BASE_DIR)
    templates = sorted((base / "templates").rglob("*.html"))
    python = [
        path
        for app in ("affiliates", "offers", "postbacks", "partners", "config")
        for path in sorted((base / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]
    return templates + python


@pytest.mark.parametrize("what", sorted(INLINE))
def test_no_template_or_admin_html_holds_what_the_policy_refuses(what):
    found = []
    for path in _sources():
        text = path.read_text()
        for match in INLINE[what].finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(settings.BASE_DIR)}:{line}")
    assert found == [], f"{what} in {found}"
