"""The engine of this process, when it runs as a DeliveryWorker."""

from django.conf import settings

from postbacks.delivery import services
from postbacks.delivery.engine import DeliveryEngine
from postbacks.delivery.sender import SenderConfig

_engine: DeliveryEngine | None = None


def current_engine() -> DeliveryEngine | None:
    return _engine


def start_engine() -> DeliveryEngine:
    global _engine
    if _engine is None:
        _engine = DeliveryEngine(
            config=SenderConfig.from_settings(),
            record=lambda outcomes: services.delivery_outcomes_record(outcomes=outcomes),
            release=lambda outgoing: services.deliveries_release(outgoing=outgoing, delay=1.0),
            max_in_flight=settings.POSTBACK_MAX_IN_FLIGHT,
            max_per_host=settings.POSTBACK_MAX_PER_HOST,
            host_wait=settings.POSTBACK_HOST_WAIT,
        ).start()
    return _engine


def stop_engine(timeout: float | None = None) -> None:
    global _engine
    engine, _engine = _engine, None
    if engine is not None:
        engine.close(timeout)
