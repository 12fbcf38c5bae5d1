"""The ``threadguard`` command line. Each package registers its own verbs; this module only dispatches.

Verbs are registered lazily so that ``threadguard serve`` does not import the trainer's heavy dependencies.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module -> function(subparsers) that adds that package's verbs
REGISTRARS: tuple[str, ...] = (
    "training.cli",
    "service.cli",
    "service.review.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="threadguard", description="Content-moderation classifier service for comment threads."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in REGISTRARS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # an optional part is not installed
            if exc.name and module_name.startswith(exc.name.split(".")[0]):
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
