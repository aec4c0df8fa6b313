"""`make run`'s admin login: create the superuser once, with a random password printed once."""

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = (
        "Create the superuser 'admin' (e-mail admin@localhost) if it does not exist, with a random "
        "password printed once. ADMIN_PASSWORD, when set, is used instead (and is set on an "
        "existing user), for scripted use."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        from_env = os.environ.get("ADMIN_PASSWORD", "")
        user_model = get_user_model()
        with transaction.atomic():
            user = user_model.objects.select_for_update().filter(username=username).first()
            if user is None:
                password = from_env or secrets.token_urlsafe(12)
                user_model.objects.create_superuser(
                    username=username, email=options["email"], password=password
                )
                shown = "(from ADMIN_PASSWORD)" if from_env else password
                self.stdout.write(f"Created superuser {username!r}, password: {shown}")
                if not from_env:
                    self.stdout.write("The password is shown only this once; note it down.")
                return
            if from_env:
                user.set_password(from_env)
                user.save(update_fields=["password"])
                self.stdout.write(
                    f"Superuser {username!r} exists; password set from ADMIN_PASSWORD."
                )
                return
        self.stdout.write(
            f"Superuser {username!r} already exists; its password was printed when it was created."
        )
        self.stdout.write(f"To set a new one: .venv/bin/python manage.py changepassword {username}")
