"""Internal commands, batched per partition: one Kafka message carries many commands.

faust pays a fixed cost per consumed message (its stream machinery, acks,
offset bookkeeping) that dwarfs the work of one small command. So commands for
the internal topics are gathered per destination partition and sent together:
the consuming agent takes one message and handles every command in it, in
order, each with its own position `(offset, index)` for crash replay.

Partitions are chosen here, with Kafka's default partitioner (murmur2 of the
key, as the Java client and aiokafka do), so that every command for one asset
(or one event id) lands on the partition whose table rows hold that key,
whoever produced it — our intake, a transfer source, the registry or the timer.

A command's future completes when the broker has acknowledged the batch that
carries it; the sender's event is acked only then (streams.acks), so a batch
lost in a crash means its input is consumed again, never skipped.

1. `add` encodes the command and appends it to its partition's buffer.
2. A buffer is sent when it reaches `MAX_BATCH_COMMANDS` or `MAX_BATCH_BYTES`,
   and every buffer at the latest `LINGER_SECONDS` after its first command: long
   enough to gather tens of commands per partition at the rate one intake agent
   decodes (a few thousand messages a second), short beside the time an event
   takes end to end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.partitioner import murmur2

from service.messages import Command
from streams.records import encode_command, encode_encoded

log = logging.getLogger(__name__)

MAX_BATCH_COMMANDS = 500
MAX_BATCH_BYTES = 512 * 1024
LINGER_SECONDS = 0.02

# (topic, partition, value) -> a future of the broker's acknowledgement
SendFn = Callable[[str, int, bytes], Awaitable[Awaitable[Any]]]


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner: murmur2, positive, modulo the partition count."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass
class _Buffer:
    commands: list[bytes] = field(default_factory=list)
    size: int = 0
    done: asyncio.Future[None] | None = None
    started: float = 0.0


class CommandBatcher:
    """Per-(topic, partition) buffers of encoded commands, flushed by size or by time."""

    def __init__(self, send: SendFn, partitions: dict[str, int]) -> None:
        self._send = send
        self._partitions = partitions
        self._buffers: dict[tuple[str, int], _Buffer] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None

    async def add(self, topic: str, key: bytes, command: Command) -> asyncio.Future[None]:
        """Queue `command` for `topic` by `key`; the future completes once it is stored."""
        if self._failed is not None:
            raise RuntimeError("an earlier batch failed; not accepting more") from self._failed
        # Step 1
        target = (topic, partition_for(key, self._partitions[topic]))
        buffer = self._buffers.get(target)
        if buffer is None:
            loop = asyncio.get_running_loop()
            buffer = self._buffers[target] = _Buffer(done=loop.create_future(),
                                                     started=loop.time())  # fmt: skip
        encoded = encode_command(command)
        buffer.commands.append(encoded)
        buffer.size += len(encoded) + 1
        done = buffer.done
        if done is None:  # pragma: no cover - set at creation
            raise RuntimeError("buffer without a future")
        # Step 2
        if len(buffer.commands) >= MAX_BATCH_COMMANDS or buffer.size >= MAX_BATCH_BYTES:
            await self._flush(target)
        else:
            self._ensure_flusher()
        return done

    async def flush(self) -> None:
        """Send every buffer now."""
        for target in list(self._buffers):
            await self._flush(target)

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._linger())

    async def _linger(self) -> None:
        # Loop while buffers remain: a command added while a flush awaits the producer lands
        # in a new buffer that this flush does not see; stopping here would strand it (and
        # the events waiting for it) until some other command came along.
        while self._buffers:
            await asyncio.sleep(LINGER_SECONDS)
            try:
                await self.flush()
            except Exception:  # the failure is on the commands' futures: their events crash
                log.exception("sending a batch of commands failed")
                return

    async def _flush(self, target: tuple[str, int]) -> None:
        buffer = self._buffers.pop(target, None)
        if buffer is None or not buffer.commands or buffer.done is None:
            return
        topic, partition = target
        done = buffer.done
        try:
            acknowledged = await self._send(topic, partition, encode_encoded(buffer.commands))
        except BaseException as exc:
            self._failed = exc
            done.set_exception(exc)
            raise
        _chain(acknowledged, done)


def _chain(acknowledged: Awaitable[Any], done: asyncio.Future[None]) -> None:
    """Complete `done` with the broker's answer for the batch."""
    future = asyncio.ensure_future(acknowledged)

    def settle(f: asyncio.Future[Any]) -> None:
        if done.done():
            return
        if f.cancelled():
            done.set_exception(asyncio.CancelledError("batch send cancelled"))
        elif f.exception() is not None:
            done.set_exception(f.exception())  # type: ignore[arg-type]
        else:
            done.set_result(None)

    future.add_done_callback(settle)
