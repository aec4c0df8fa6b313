"""English and French for the affiliate-facing pages and e-mails: every string they mark has a
French translation, the browser's language or the switch picks it, and the rest of the portal
(admin, API) stays in English."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from tests.partners.conftest import mailed_link, run_mail_jobs

# What `make messages` reads: the apps' code and the templates.
SOURCES = ("affiliates", "config", "offers", "partners", "postbacks", "templates", "locale")


def _entries(po: str) -> list[tuple[str, list[str], bool]]:
    """(msgid, msgstrs, fuzzy) per entry of a .po file, the header left out."""
    entries = []
    for block in po.split("\n\n"):
        fields: dict[str, list[str]] = {}
        current = None
        for line in block.splitlines():
            match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) (".*")$', line)
            if match:
                current = match.group(1)
                fields[current] = [match.group(2)]
            elif line.startswith('"') and current:
                fields[current].append(line)
        text = {
            key: "".join(ast.literal_eval(part) for part in parts) for key, parts in fields.items()
        }
        if text.get("msgid"):
            strs = [value for key, value in text.items() if key.startswith("msgstr")]
            entries.append((text["msgid"], strs, "#, fuzzy" in block or ", fuzzy" in block))
    return entries


def test_every_string_of_the_affiliate_pages_has_a_french_translation(tmp_path):
    """`make messages` on a copy of the sources, then no entry may lack its French: a new or
    changed string in /setup/, /partner/ or an e-mail to affiliates fails here until translated."""
    if shutil.which("xgettext") is None:
        pytest.fail("xgettext (Debian package gettext) is needed to check the catalogue")
    base = Path(settings.BASE_DIR)
    for name in SOURCES:
        shutil.copytree(
            base / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo")
        )
    shutil.copy(base / "manage.py", tmp_path / "manage.py")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "fr", "--no-location"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    entries = _entries((tmp_path / "locale/fr/LC_MESSAGES/django.po").read_text())
    assert len(entries) > 100
    untranslated = [msgid for msgid, strs, fuzzy in entries if fuzzy or not all(strs)]
    assert untranslated == [], f"no French for: {untranslated}"


@pytest.mark.django_db
def test_the_browsers_language_picks_french_and_the_switch_keeps_it(client):
    french = client.get(reverse("partner:sign-in"), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    html = french.content.decode()
    assert '<html lang="fr">' in html
    assert "Connectez-vous à votre page de postbacks" in html
    assert (
        "Demander un postback"
        in client.get(reverse("setup:form"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    )
    client.post(reverse("set_language"), {"language": "fr", "next": reverse("setup:form")})
    assert "Envoyer la demande" in client.get(reverse("setup:form")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": reverse("setup:form")})
    assert "Send the request" in client.get(reverse("setup:form")).content.decode()


@pytest.mark.django_db
def test_the_admin_and_the_api_stay_english_for_a_french_browser(admin_client):
    page = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="fr")
    assert "Log out" in page.content.decode()
    answer = admin_client.get("/api/v1/nothing-here/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Page non trouvée" not in answer.content.decode()


@pytest.mark.django_db
def test_a_sign_in_link_asked_in_french_arrives_in_french(client, affiliate):
    client.post(reverse("partner:sign-in"), {"email": affiliate.email}, HTTP_ACCEPT_LANGUAGE="fr")
    # The job runs in no request, in English: the language of the asking browser travels with it.
    run_mail_jobs()
    (message,) = mail.outbox
    assert message.subject == "Connectez-vous à votre page de postbacks"
    assert "Il fonctionne une seule fois, pendant 15 minutes" in message.body
    assert mailed_link() in message.body


@pytest.mark.django_db
def test_the_invite_names_the_affiliates_page_in_the_language_chosen(admin_client, affiliate):
    admin_client.post(
        reverse("admin:affiliates_affiliate_invite", args=[affiliate.pk]), {"language": "fr"}
    )
    (message,) = mail.outbox
    assert message.subject == "Configurez votre postback"
    assert "/partner/" in message.body and "votre page de postbacks" in message.body
