"""What the analysis subcommands (`rrvm trace`, `rrvm origin`, `rrvm diff`) share: the
--symbols and --json options, opening a trace, and printing the result."""

from __future__ import annotations

import argparse
import json
from contextlib import contextmanager
from typing import Any, Iterator

from rr.errors import RrError


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbols", metavar="ELF",
                        help="guest symbols from this ELF (default: the trace's image, if an ELF)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def print_json(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2))


@contextmanager
def user_errors() -> Iterator[None]:
    """A mistyped expression is a one-line error at the CLI boundary, like any RrError."""
    from rr.repl.expressions import ExpressionError     # only the analyses load the REPL's parts

    try:
        yield
    except ExpressionError as exc:
        raise RrError(str(exc)) from None
