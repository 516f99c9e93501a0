"""streams.acks.OrderedAcker: an event is acked only after its sends, and in arrival order."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.acks import OrderedAcker


class FakeStream:
    def __init__(self) -> None:
        self.acked: list[str] = []

    async def ack(self, event: str) -> bool:
        self.acked.append(event)
        return True


def _run(scenario: Any) -> Any:
    return asyncio.run(scenario())


def test_an_event_is_acked_only_when_all_its_sends_are_acknowledged() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        stream, crashes = FakeStream(), []
        acker = OrderedAcker(stream, lambda exc: _record(crashes, exc))
        first, second = loop.create_future(), loop.create_future()
        await acker.add("e1", [first, second])
        first.set_result(None)
        await acker.ack_ready()
        before = list(stream.acked)
        second.set_result(None)
        await acker.ack_ready()
        assert before == [] and crashes == []
        return stream.acked

    assert _run(scenario) == ["e1"]


def test_a_later_event_waits_for_an_earlier_one_so_acks_stay_in_order() -> None:
    async def scenario() -> list[list[str]]:
        loop = asyncio.get_running_loop()
        stream = FakeStream()
        acker = OrderedAcker(stream, lambda exc: _record([], exc))
        slow, fast = loop.create_future(), loop.create_future()
        await acker.add("e1", [slow])
        fast.set_result(None)
        await acker.add("e2", [fast])
        seen = [list(stream.acked)]
        slow.set_result(None)
        await acker.ack_ready()
        seen.append(list(stream.acked))
        return seen

    assert _run(scenario) == [[], ["e1", "e2"]]


def test_an_event_without_sends_is_acked_at_once() -> None:
    async def scenario() -> list[str]:
        stream = FakeStream()
        acker = OrderedAcker(stream, lambda exc: _record([], exc))
        await acker.add("e1", [])
        return stream.acked

    assert _run(scenario) == ["e1"]


def test_a_failed_send_crashes_and_nothing_from_there_on_is_acked() -> None:
    async def scenario() -> tuple[list[str], list[BaseException]]:
        loop = asyncio.get_running_loop()
        stream, crashes = FakeStream(), []
        acker = OrderedAcker(stream, lambda exc: _record(crashes, exc))
        ok, bad, later = loop.create_future(), loop.create_future(), loop.create_future()
        ok.set_result(None)
        await acker.add("e1", [ok])
        bad.set_exception(RuntimeError("broker said no"))
        later.set_result(None)
        adding = asyncio.create_task(acker.add("e2", [bad, later]))
        await asyncio.sleep(0.01)
        assert not adding.done()  # the agent never takes another event after a failure
        adding.cancel()
        await acker.ack_ready()
        return stream.acked, crashes

    acked, crashes = _run(scenario)
    assert acked == ["e1"]
    assert [str(c) for c in crashes] == ["broker said no"]


async def _record(crashes: list[BaseException], exc: BaseException) -> None:
    crashes.append(exc)
