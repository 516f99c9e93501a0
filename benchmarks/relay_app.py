"""A bare faust agent relaying messages (consume → send, nothing else): the ceiling for the worker.

Run by benchmarks/worker_throughput.py as a worker subprocess, with the same faust
settings as `assetstream worker` (streams.app.faust_settings): the same broker,
producer (acks, linger, batch size, compression) and consumer settings, so the
ratio compares the work per message, not the configuration.

    RELAY_IN=in RELAY_OUT=out RELAY_APP=id RELAY_PORT=6070 python -m benchmarks.relay_app worker

It counts what it relayed at http://127.0.0.1:$RELAY_PORT/count.
"""

from __future__ import annotations

import os
from typing import Any

import faust

from streams.app import faust_settings
from streams.settings import load_settings

settings = load_settings()
app = faust.App(
    os.environ["RELAY_APP"],
    store="memory://",
    web_port=int(os.environ["RELAY_PORT"]),
    web_host="127.0.0.1",
    web_bind="127.0.0.1",
    datadir=os.environ.get("RELAY_DATA", "/tmp/relay-data"),
    **faust_settings(settings),
)
source = app.topic(os.environ["RELAY_IN"], key_serializer="raw", value_serializer="raw")
target = app.topic(os.environ["RELAY_OUT"], key_serializer="raw", value_serializer="raw")
relayed = {"count": 0}


@app.agent(source, concurrency=1)
async def relay(stream: Any) -> None:
    async for key, value in stream.items():
        await target.send(key=key, value=value)
        relayed["count"] += 1


@app.page("/count")
async def count(web: Any, request: Any) -> Any:
    return web.json(relayed)


if __name__ == "__main__":
    app.main()
