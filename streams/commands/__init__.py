"""One module per `assetstream` subcommand.

Each module defines `HELP` (one line), `add_arguments(parser)` and
`run(args) -> int`. Top-level imports stay light (argparse only) so that
`assetstream --help` is instant; heavy imports (faust, redis) go inside `run`.
"""
