"""The worker's plumbing without a broker: batching, coalesced publication, the offset guard."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from domain.ledger import new_ledger, receive
from service.messages import Tick
from streams.batching import MAX_BATCH_COMMANDS, CommandBatcher, partition_for
from streams.offsets import OffsetGuard
from streams.publishing import SnapshotPublisher
from streams.records import decode_commands
from tests.support.builders import T0, created, d, delivery


class Broker:
    """Sends that the test acknowledges (or fails) when it chooses."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.acks: list[asyncio.Future[Any]] = []

    async def send(self, *args: Any) -> asyncio.Future[Any]:
        self.sent.append(args)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks.append(future)
        return future


def test_commands_go_to_the_partition_kafkas_default_partitioner_gives_their_key() -> None:
    """Every producer of commands (intake, transfers, the registry, the timer) must agree."""
    keys = [f"AST-{n}".encode() for n in range(200)]
    partitions = list(range(8))
    for key in keys:
        assert partition_for(key, 8) == DefaultPartitioner()(key, partitions, partitions)


def test_commands_for_one_partition_travel_in_one_message_in_order() -> None:
    broker = Broker()

    async def run() -> list[asyncio.Future[None]]:
        batcher = CommandBatcher(broker.send, {"c": 4})
        futures = [await batcher.add("c", b"AST-1", Tick("AST-1")) for _ in range(3)]
        await batcher.flush()
        return futures

    futures = asyncio.run(run())
    ((topic, partition, value),) = broker.sent
    assert (topic, partition) == ("c", partition_for(b"AST-1", 4))
    assert decode_commands(value) == [Tick("AST-1")] * 3
    assert len(set(map(id, futures))) == 1  # one batch, one acknowledgement


def test_a_full_batch_is_sent_at_once_and_its_commands_are_stored_only_when_acknowledged() -> None:
    broker = Broker()

    async def run() -> None:
        batcher = CommandBatcher(broker.send, {"c": 1})
        futures = [await batcher.add("c", b"k", Tick("A")) for _ in range(MAX_BATCH_COMMANDS)]
        assert len(broker.sent) == 1 and not futures[0].done()
        broker.acks[0].set_result(None)
        await asyncio.wait_for(futures[0], timeout=1)

    asyncio.run(run())


def test_a_failed_batch_fails_its_commands_so_their_events_are_never_acked() -> None:
    broker = Broker()

    async def run() -> None:
        batcher = CommandBatcher(broker.send, {"c": 1})
        future = await batcher.add("c", b"k", Tick("A"))
        await batcher.flush()
        broker.acks[0].set_exception(RuntimeError("broker said no"))
        with pytest.raises(RuntimeError, match="broker said no"):
            await asyncio.wait_for(future, timeout=1)

    asyncio.run(run())


def _ledger() -> Any:
    return receive(new_ledger("A"), delivery(created()), as_of=d("2025-09-01"), now=T0).ledger


def test_the_publisher_sends_each_asset_once_per_window_with_its_latest_state() -> None:
    broker = Broker()

    async def run() -> None:
        publisher = SnapshotPublisher(broker.send, window=60.0, limit=1 << 20)
        first = publisher.publish(b"A", new_ledger("A"))
        second = publisher.publish(b"A", _ledger())
        assert first is second and not broker.sent  # nothing until the window closes
        await publisher.close_window()
        ((key, value),) = broker.sent
        assert key == b"A" and b'"version":1' in value
        assert not second.done()  # the events wait for the broker's acknowledgement
        broker.acks[0].set_result(None)
        await asyncio.wait_for(second, timeout=1)

    asyncio.run(run())


def test_an_asset_that_no_longer_exists_is_published_as_a_tombstone() -> None:
    broker = Broker()
    ledger = _ledger()
    gone = ledger.__class__(**{**{f: getattr(ledger, f) for f in ledger.__dataclass_fields__},
                               "log": new_ledger("A").log})  # fmt: skip

    async def run() -> None:
        publisher = SnapshotPublisher(broker.send, window=0.0, limit=1 << 20)
        publisher.publish(b"A", gone)
        await publisher.close_window()

    asyncio.run(run())
    assert broker.sent == [(b"A", None)]


def test_the_offset_guard_stops_at_a_skipped_offset_and_allows_a_redelivery() -> None:
    guard = OffsetGuard(lambda tp: 10 if tp == ("t", 0) else None)
    assert guard.check("t", 0, 10) is None
    assert guard.check("t", 0, 11) is None
    assert guard.check("t", 0, 11) is None  # the same offset again: handled idempotently
    error = guard.check("t", 0, 13)
    assert error is not None and "offset 12 was never handled" in str(error)
    assert guard.check("t", 1, 500) is None  # nothing known: the first event sets the baseline


def test_the_first_event_after_an_assignment_must_be_the_committed_offset() -> None:
    guard = OffsetGuard(lambda tp: 100)
    assert guard.check("t", 0, 104) is not None  # 100–103 were never handed to us


@pytest.mark.parametrize("first", [100, 40])
def test_a_revoked_partition_starts_again_from_its_committed_offset(first: int) -> None:
    committed = {"t": 40}
    guard = OffsetGuard(lambda tp: committed[tp[0]])
    for offset in range(40, 100):
        assert guard.check("t", 0, offset) is None

    class Revoked:
        topic, partition = "t", 0

    guard.forget([Revoked()])
    committed["t"] = first  # another worker may have moved it on meanwhile
    assert guard.check("t", 0, first) is None


def test_a_command_added_while_a_flush_is_sending_is_sent_too() -> None:
    """A buffer created during a flush must not wait for some later command to be sent."""
    sent: list[bytes] = []
    release = asyncio.Event()

    async def slow_send(topic: str, partition: int, value: bytes) -> asyncio.Future[Any]:
        sent.append(value)
        await release.wait()  # the producer is busy: the flush waits here
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def run() -> None:
        batcher = CommandBatcher(slow_send, {"c": 1})
        first = await batcher.add("c", b"k", Tick("A"))
        await asyncio.sleep(0.05)  # the linger flush is now stuck in slow_send
        second = await batcher.add("c", b"k", Tick("B"))
        release.set()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=2)

    asyncio.run(run())
    assert [decode_commands(v) for v in sent] == [[Tick("A")], [Tick("B")]]
