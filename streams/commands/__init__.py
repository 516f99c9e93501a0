"""One module per `assetstream` subcommand.

Each module defines `HELP` (one line), `add_arguments(parser)` and
`run(args) -> int`. Top-level imports stay light (argparse only) so that
`assetstream --help` is instant; heavy imports (faust, redis) go inside `run`.
A command that needs the settings reads them with `load_settings_or_say`: a bad
environment is one printable line on stderr and exit status 2, in every command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.settings import Settings


def load_settings_or_say(command: str) -> Settings | None:
    """The settings from the environment, or None after saying on stderr, in one printable
    line (`assetstream COMMAND: …`), why not; the command then exits 2."""
    import sys

    from streams.settings import SettingsError, load_settings
    from streams.terminal import printable

    try:
        return load_settings()
    except SettingsError as exc:
        print(f"assetstream {command}: {printable(str(exc))}", file=sys.stderr)
        return None
