"""RQ jobs. They take primitive ids, call services, and trust nothing to run only once."""

from collections.abc import Sequence

from postbacks.delivery import queue, runtime, services
from postbacks.delivery.sender import send_now


def send_deliveries(delivery_ids: list[int], trigger: str = "auto") -> int:
    """Claim the due deliveries among `delivery_ids` and send them.

    In a DeliveryWorker the sends go to the process's engine and the job returns at once; under
    any other RQ worker they are sent here, together, before the job returns."""
    return len(_claim_and_send(delivery_ids, trigger))


def drain_deliveries() -> int:
    """Send deliveries gathered for their automatic attempt (at most one chunk: the next drain
    job, already scheduled when more are waiting, takes the rest)."""
    left = queue.gathered_take()
    sent = 0
    # A status postback can be claimed only once the earlier postbacks of its conversion have
    # started their attempt; gathered into the same chunk, it is left by the claim that takes
    # them, and the next claim takes it.
    while left:
        claimed = _claim_and_send(left, "auto")
        if not claimed:
            break
        sent += len(claimed)
        left = [pk for pk in left if pk not in claimed]
    return sent


def _claim_and_send(delivery_ids: Sequence[int], trigger: str) -> set[int]:
    outgoing = services.deliveries_claim(delivery_ids=delivery_ids, trigger=trigger)
    engine = runtime.current_engine()
    if engine is not None:
        engine.submit(outgoing)
    else:
        services.delivery_outcomes_record(outcomes=send_now(outgoing))
    return {out.delivery_id for out in outgoing}
