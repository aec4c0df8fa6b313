"""`make worker`: deliver postbacks (RQ queue "postbacks"), send the mail queued on "mail", and
run the periodic sweep."""

from typing import Any

from django.core.management.base import BaseCommand

from postbacks.delivery.rq_queue import MAIL_QUEUE_NAME, QUEUE_NAME, get_mail_queue, get_queue
from postbacks.delivery.worker import DeliveryWorker


class Command(BaseCommand):
    help = (
        "Run a postback delivery worker in the foreground: an RQ worker on the 'postbacks' queue "
        "that keeps many postbacks in flight, and on the 'mail' queue (sign-in links), plus the "
        "sweep that re-queues due deliveries. "
        "SIGTERM or Ctrl-C finishes the postbacks in flight, then stops. A Redis outage is "
        "waited out, however long."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--burst", action="store_true", help="Stop when the queue is empty.")
        parser.add_argument("--name", default=None, help="Worker name shown in the RQ dashboard.")
        parser.add_argument(
            "--no-sweep", action="store_true", help="Do not run the sweep in this process."
        )
        parser.add_argument("--max-jobs", type=int, default=None)
        parser.add_argument(
            "--rq-log-level",
            default="WARNING",
            help="Log level of RQ's own messages; INFO logs every job (thousands a second).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        queue = get_queue()
        # Mail first: its jobs are few (sign-in links, limited per address and per client) and
        # a link expires in minutes, so it must not wait behind a backlog of postback jobs. A
        # slow mail server holds up the intake of postback jobs for at most EMAIL_TIMEOUT; the
        # postbacks in flight carry on in the engine meanwhile.
        worker = DeliveryWorker(
            [get_mail_queue(), queue],
            connection=queue.connection,
            name=options["name"],
            sweep=not options["no_sweep"],
            log_job_description=False,
        )
        self.stdout.write(
            f"delivery worker {worker.name} on queues {MAIL_QUEUE_NAME!r}, {QUEUE_NAME!r}"
        )
        worker.work(
            burst=options["burst"],
            max_jobs=options["max_jobs"],
            logging_level=options["rq_log_level"],
        )
