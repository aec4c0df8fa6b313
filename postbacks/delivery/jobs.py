"""RQ jobs. They take primitive ids, call services, and trust nothing to run only once."""

from postbacks.delivery import queue, runtime, services
from postbacks.delivery.sender import send_now


def send_deliveries(delivery_ids: list[int], trigger: str = "auto") -> int:
    """Claim the due deliveries among `delivery_ids` and send them.

    In a DeliveryWorker the sends go to the process's engine and the job returns at once; under
    any other RQ worker they are sent here, together, before the job returns."""
    outgoing = services.deliveries_claim(delivery_ids=delivery_ids, trigger=trigger)
    engine = runtime.current_engine()
    if engine is not None:
        engine.submit(outgoing)
    else:
        services.delivery_outcomes_record(outcomes=send_now(outgoing))
    return len(outgoing)


def drain_deliveries() -> int:
    """Send deliveries gathered for their automatic attempt (at most one chunk: the next drain
    job, already scheduled when more are waiting, takes the rest)."""
    return send_deliveries(queue.gathered_take())
