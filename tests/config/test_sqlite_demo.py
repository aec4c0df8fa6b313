"""`make run` without DATABASE_URL keeps its data in SQLite: ingest (which takes its ids from a
PostgreSQL sequence and writes with PostgreSQL's own statements) must work there too, through the
same commands make run uses to load its day of demo traffic."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_demo_traffic_is_ingested_into_sqlite_with_its_postbacks(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
    }
    _manage("migrate", "-v", "0", env=env)
    _manage("load_demo_data", env=env)

    out = _manage("load_demo_traffic", env=env)

    assert "Demo traffic: 96 conversions" in out, out
    counts = _manage(
        "shell",
        "-c",
        "from postbacks.models import Conversion, Delivery; "
        "from postbacks.services import IngestItem, conversions_ingest; "
        "c = Conversion.objects.exclude(affiliate=None).select_related('affiliate', 'offer',"
        " 'event_type').first(); "
        "item = IngestItem(transaction_id='again', event=c.event_type.code,"
        " offer_id=c.offer.network_offer_id, affiliate_id=c.affiliate.network_id); "
        "first, twin = conversions_ingest(items=[item, item]); "
        "(repeat,) = conversions_ingest(items=[item]); "
        "print(first.created, twin.created, repeat.created,"
        " first.delivery_ids == repeat.delivery_ids, len(first.delivery_ids) > 0,"
        " Conversion.objects.count(), Delivery.objects.filter(conversion__isnull=False).count())",
        env=env,
    )
    assert counts.split()[-7:] == ["True", "False", "False", "True", "True", "97", "97"], counts
