"""CLI subcommands: one module each, ``register(subparsers)`` + ``run(args) -> int`` (see ``cli.py``)."""
