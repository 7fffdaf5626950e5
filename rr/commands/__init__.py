"""One module per rrvm subcommand; each has ``add_arguments(parser)`` and ``run(args) -> int``."""
