"""A minimal Faust app for the environment check
tests/integration/env_checks/test_smoke_faust.py.

Run as a real worker process:

    SMOKE_APP_ID=... SMOKE_IN_TOPIC=... SMOKE_OUT_TOPIC=... \\
        python -m tests.integration.smoke_app worker -l info --without-web

It consumes raw bytes from SMOKE_IN_TOPIC, counts messages per key in a table
(so a changelog topic ``{app id}-counts-changelog`` exists), and publishes
``{"key", "value", "count"}`` as JSON to SMOKE_OUT_TOPIC. Broker and security
come from streams.settings (KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, ...).
"""

from __future__ import annotations

import json
import os
import tempfile

import faust

from streams.settings import broker_credentials, faust_broker_urls, load_settings

settings = load_settings()

app = faust.App(
    os.environ.get("SMOKE_APP_ID", "assetstream-smoke"),
    broker=faust_broker_urls(settings),
    broker_credentials=broker_credentials(settings),
    store="memory://",
    topic_partitions=1,
    topic_replication_factor=1,
    web_enabled=False,
    # faust keeps per-app state in "{app id}-data" under the working directory
    # unless told otherwise; never litter the checkout.
    datadir=os.environ.get("SMOKE_DATA_DIR", tempfile.gettempdir()),
    # Commit quickly so a restarted worker does not re-read much.
    broker_commit_interval=0.5,
)

inbound = app.topic(
    os.environ.get("SMOKE_IN_TOPIC", "smoke-in"),
    key_serializer="raw",
    value_serializer="raw",
    partitions=1,
)
outbound = app.topic(
    os.environ.get("SMOKE_OUT_TOPIC", "smoke-out"),
    key_serializer="raw",
    value_serializer="raw",
    partitions=1,
)
counts = app.Table("counts", default=int, partitions=1)


@app.agent(inbound)
async def count_messages(stream: faust.StreamT[bytes]) -> None:
    """Count per key; reassigning the table key writes the changelog."""
    async for key, value in stream.items():
        text_key = key.decode() if isinstance(key, bytes) else str(key)
        counts[text_key] += 1
        record = {"key": text_key, "value": value.decode(), "count": counts[text_key]}
        await outbound.send(key=key, value=json.dumps(record).encode())


if __name__ == "__main__":
    app.main()
