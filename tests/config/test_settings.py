"""Production settings refuse to start without a secret and pass `check --deploy` (docs/spec.md
§8)."""

import json
import os
import secrets

from tests.config.processes import MANAGE, clean_env, run


def test_production_settings_refuse_to_load_without_a_secret_key():
    result = run(["-c", "import config.settings.production"], clean_env())
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_settings_refuse_a_short_secret_key():
    result = run(
        ["-c", "import config.settings.production"], clean_env(DJANGO_SECRET_KEY="too-short")
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def production_env(**extra: str) -> dict[str, str]:
    return clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        DJANGO_ALLOWED_HOSTS="portal.example",
        DATABASE_URL=os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postback_portal"
        ),
        **extra,
    )


def test_production_settings_pass_check_deploy_without_warnings():
    env = production_env()
    assert len(env["DJANGO_SECRET_KEY"]) == 64
    result = run([MANAGE, "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# An https request to the production settings, answered in-process (a 404: no database, no
# static files manifest needed); prints the answer's headers as JSON.
PRODUCTION_HEADERS = """
import json
import django
django.setup()
from django.test import Client
answer = Client().get("/no-such-page/", secure=True, HTTP_HOST="portal.example")
print(json.dumps(dict(answer.headers)))
"""


def production_headers(**extra: str) -> dict[str, str]:
    result = run(["-c", PRODUCTION_HEADERS], production_env(**extra))
    assert result.returncode == 0, result.stderr
    headers: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    return headers


def test_production_sends_hsts_and_the_strict_content_security_policy():
    headers = production_headers()
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    parts = (part.split() for part in headers["Content-Security-Policy"].split(";"))
    directives = {name: " ".join(sources) for name, *sources in parts}
    assert directives == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
    }
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_production_hsts_follows_its_environment_variables():
    headers = production_headers(
        DJANGO_SECURE_HSTS_SECONDS="3600",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
        DJANGO_SECURE_HSTS_PRELOAD="false",
    )
    assert headers["Strict-Transport-Security"] == "max-age=3600"
