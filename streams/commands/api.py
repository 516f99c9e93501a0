"""`assetstream api`: the HTTP read API and the asset pages."""

from __future__ import annotations

import argparse

HELP = "Serve the HTTP read API and the asset pages from the Redis read model."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=None, help="interface to bind (default: $ASSETSTREAM_API_HOST)"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="TCP port (default: $ASSETSTREAM_API_PORT)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from streams.commands import load_settings_or_say
    from streams.web.app import config_from_settings, create_app

    settings = load_settings_or_say("api")
    if settings is None:
        return 2
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    app = create_app(config_from_settings(settings))
    auth = "bearer token required" if settings.api_token else "no token (open)"
    print(f"assetstream api: http://{host}:{port}/ ({auth}); pages under /ui/", flush=True)
    # Access logs off: /metrics counts requests, and logging each one costs latency.
    uvicorn.run(app, host=host, port=port, log_level=args.log_level, access_log=False)
    return 0
