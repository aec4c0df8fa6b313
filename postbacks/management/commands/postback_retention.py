"""Delete delivery attempts, test deliveries and admin login logs older than
POSTBACK_RETENTION_DAYS."""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand

from postbacks.retention import retention_purge


class Command(BaseCommand):
    help = (
        "Delete delivery attempts, test deliveries and admin login logs older than "
        "POSTBACK_RETENTION_DAYS (or "
        "--days), in batches without long locks. Conversions and deliveries are kept. Workers "
        "run this every POSTBACK_RETENTION_INTERVAL seconds already."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=float, default=None)
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        purged = retention_purge(
            older_than=timedelta(days=days) if days is not None else None,
            batch_size=options["batch_size"],
        )
        self.stdout.write(
            f"deleted {purged.attempts} attempts, {purged.test_deliveries} test deliveries and "
            f"{purged.login_logs} login log entries"
        )
