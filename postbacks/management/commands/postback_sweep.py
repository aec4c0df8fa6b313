"""Re-queue due deliveries and reclaim abandoned ones, once or in a loop (for cron or ops)."""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from postbacks.delivery.queue import sweep


class Command(BaseCommand):
    help = (
        "Re-queue deliveries that are due but not queued, and give back deliveries whose worker "
        "died mid-send. Workers run this already; use it after a Redis outage or from cron."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep sweeping until stopped.")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            report = sweep()
            self.stdout.write(f"reclaimed {report.reclaimed}, queued {report.queued}")
            if not options["loop"]:
                return
            time.sleep(settings.POSTBACK_SWEEP_INTERVAL)
