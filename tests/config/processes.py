"""Running `manage.py` or Python in a child process with a clean environment: how the settings
tests see what a fresh process of each environment would load."""

import os
import subprocess
import sys

from django.conf import settings

MANAGE = str(settings.BASE_DIR / "manage.py")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Django's own settings and the database, plus `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DJANGO_") and name != "DATABASE_URL"
    }
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python <args>` from the project folder, its output captured."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
