"""Issue an API token (docs/spec.md §5): ``create_api_token <username> --scope ingest|manage``."""

from typing import Any, cast

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Field

from config.permissions import Scope, api_token_issue


class Command(BaseCommand):
    help = (
        "Create the user if needed, give it a new API token of the scope (replacing its old "
        "token), and print only the key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--scope",
            required=True,
            choices=[scope.value for scope in Scope],
            help="ingest: post and read conversions; manage: also the management API.",
        )

    def handle(self, *args: Any, username: str, scope: str, **options: Any) -> None:
        user_model = get_user_model()
        field = cast(Field, user_model._meta.get_field(user_model.USERNAME_FIELD))
        try:
            username = field.clean(username, None)
        except ValidationError as exc:
            raise CommandError(f"Invalid username {username!r}: {' '.join(exc.messages)}") from exc
        self.stdout.write(api_token_issue(username=username, scope=Scope(scope)))
