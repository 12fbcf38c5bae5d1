"""CLI verbs of the review queue: ``create-user`` and ``export-labels``.

Both honour ``THREADGUARD_DATABASE_URL`` (and ``--database-url``, which wins) and migrate the database first, so
they work on a fresh database before the service ever ran.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from service.review.accounts import AccountError, create_user
from service.review.actions import audit_system_event
from service.review.db import make_engine, make_session_factory, migrate
from service.review.export import export_labels, iter_rows, write_rows
from service.review.models import Role
from service.review.passwords import PasswordPolicyError, check_policy
from service.review.settings import ReviewSettings


def _add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="review database (default: $THREADGUARD_DATABASE_URL, else sqlite:///./threadguard.db)",
    )


def _database_url(args: argparse.Namespace) -> str:
    return str(args.database_url) if args.database_url else ReviewSettings().database_url


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``create-user`` and ``export-labels`` to the ``threadguard`` command line."""
    create = subparsers.add_parser(
        "create-user",
        help="add a reviewer-console user",
        description="Add a console user. The password is prompted twice on a terminal, otherwise read from the "
        "first line of standard input.",
    )
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--reset", action="store_true", help="change the password and role of an existing user")
    _add_database_option(create)
    create.set_defaults(handler=run_create_user)

    export = subparsers.add_parser(
        "export-labels",
        help="write reviewed items as a JSONL training source",
        description="Write approved and removed items as JSONL rows (text + label columns, 1/0/null) that the "
        "trainer's jsonl loader reads. Escalated and pending items are not exported.",
    )
    export.add_argument("--out", required=True, help="output file, or - for standard output")
    export.add_argument("--since", type=_parse_since, help="only decisions at or after this ISO date/time (UTC)")
    _add_database_option(export)
    export.set_defaults(handler=run_export_labels)


def _parse_since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def read_password() -> str:
    """Prompt twice on a terminal; otherwise the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        check_policy(first)
        if getpass.getpass("Repeat password: ") != first:
            raise PasswordPolicyError("the passwords do not match")
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def run_create_user(args: argparse.Namespace) -> int:
    try:
        password = read_password()
        check_policy(password)
    except PasswordPolicyError as exc:
        print(f"create-user: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(_database_url(args))
    try:
        migrate(engine)
        with make_session_factory(engine)() as db:
            try:
                user = create_user(db, args.username, password, args.role, replace=args.reset)
            except AccountError as exc:
                print(f"create-user: {exc}", file=sys.stderr)
                return 2
            audit_system_event(db, "cli", "reset_user" if args.reset else "create_user",
                               {"username": user.username, "role": user.role})
            db.commit()
    finally:
        engine.dispose()
    print(f"{'updated' if args.reset else 'created'} {args.role} {args.username}", file=sys.stderr)
    return 0


def run_export_labels(args: argparse.Namespace) -> int:
    engine = make_engine(_database_url(args))
    try:
        migrate(engine)
        with make_session_factory(engine)() as db:
            if args.out == "-":
                summary = write_rows(iter_rows(db, args.since), sys.stdout.buffer)
                sys.stdout.flush()
            else:
                summary = export_labels(db, Path(args.out), args.since)
    finally:
        engine.dispose()
    print(f"export-labels: {summary.rows} rows written to {args.out}; "
          f"{summary.skipped} reviewed items carried no label", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run these verbs on their own (``python -m service.review.cli``), e.g. before the CLI wiring exists."""
    parser = argparse.ArgumentParser(prog="threadguard")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
