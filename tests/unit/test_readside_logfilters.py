"""RateLimitFilter: a repeated log message once per interval, with the count of the rest."""

from __future__ import annotations

import logging
import uuid

import pytest

from streams.sinks.logfilters import RateLimitFilter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_logger(limiter: RateLimitFilter) -> logging.Logger:
    logger = logging.getLogger(f"test.ratelimit.{uuid.uuid4().hex}")
    logger.addFilter(limiter)
    logger.setLevel(logging.DEBUG)
    return logger


def messages(caplog: pytest.LogCaptureFixture, logger: logging.Logger) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger.name]


def test_a_repeated_message_passes_once_per_interval_then_with_the_count_it_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    logger = make_logger(RateLimitFilter(5.0, clock=clock))
    caplog.set_level(logging.DEBUG)
    for attempt in range(12):
        logger.warning("redis unavailable (%s); retrying in %.1fs", f"error {attempt}", 0.2)
        clock.now += 0.5  # 12 attempts over 6 s
    assert messages(caplog, logger) == [
        "redis unavailable (error 0); retrying in 0.2s",
        "redis unavailable (error 10); retrying in 0.2s "
        "[9 similar messages suppressed in the last 5s]",
    ]
    assert [getattr(r, "suppressed", None) for r in caplog.records] == [0, 9]


def test_different_messages_and_levels_are_limited_separately(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    logger = make_logger(RateLimitFilter(5.0, clock=clock))
    caplog.set_level(logging.DEBUG)
    logger.warning("redis unavailable (%s)", "a")
    logger.warning("kafka unavailable (%s)", "b")
    logger.error("redis unavailable (%s)", "c")
    logger.warning("redis unavailable (%s)", "d")
    assert messages(caplog, logger) == [
        "redis unavailable (a)",
        "kafka unavailable (b)",
        "redis unavailable (c)",
    ]


def test_a_message_after_a_quiet_interval_passes_without_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    logger = make_logger(RateLimitFilter(2.0, clock=clock))
    caplog.set_level(logging.DEBUG)
    logger.info("tick %d", 1)
    clock.now += 3
    logger.info("tick %d", 2)
    assert messages(caplog, logger) == ["tick 1", "tick 2"]


def test_it_limits_records_of_any_logger_it_is_attached_to_or_any_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Usable on a third-party logger (aiokafka's "Unable connect to node" floods)."""
    limiter = RateLimitFilter(60.0)
    logger = logging.getLogger(f"thirdparty.{uuid.uuid4().hex}")
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(limiter)
    try:
        for node in range(5):
            logger.error("Unable connect to node with id %s: %s", node, "refused")
    finally:
        caplog.handler.removeFilter(limiter)
    assert messages(caplog, logger) == ["Unable connect to node with id 0: refused"]


def test_an_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimitFilter(0)
