"""What `make web` runs: it listens where the operator says, loopback unless told."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _web_command(*assignments: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", "web", *assignments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]


def test_make_web_listens_on_loopback_by_default() -> None:
    assert "--bind 127.0.0.1:8000 " in _web_command()


def test_make_web_binds_where_web_bind_says() -> None:
    assert "--bind 0.0.0.0:9000 " in _web_command("WEB_BIND=0.0.0.0", "PORT=9000")
