"""`assetstream` command-line entry point: a thin dispatcher over streams/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

# Subcommand name -> module under streams.commands. Order is the --help order.
SUBCOMMANDS: dict[str, str] = {
    "worker": "worker",
    "replay": "replay",
    "produce": "produce",
    "inspect": "inspect",
    "topology": "topology",
    "project": "project",
    "api": "api",
    "status": "status",
}


def _load(module_name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"streams.commands.{module_name}")
    except ModuleNotFoundError as exc:
        # A subcommand that has not landed yet must not break the others.
        if exc.name == f"streams.commands.{module_name}":
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assetstream",
        description="Asset lifecycle stream processor: order events in, per-asset snapshots out.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = _load(module_name)
        if module is None:
            continue
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return 0
    result: int = module.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
