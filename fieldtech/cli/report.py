"""`fieldtech report`: the business report, statements and the provider's statement, from the
local store (synced first when signed in), as text or CSV."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="Contracts and billing: MRR, margins, renewals, SLA, "
                       "statements (from the local store).")
    p.add_argument("what", nargs="?", default="summary",
                   choices=("summary", "statements", "provider"),
                   help="summary (default), customer statements, or the provider's fees")
    p.add_argument("--month", help="YYYY-MM (default: this month)")
    p.add_argument("--csv", action="store_true", help="CSV on stdout (amounts in cents)")
    p.add_argument("--no-sync", action="store_true",
                   help="Use what the store holds; do not ask the cloud first.")
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from fieldtech.cli.app_commands import _sync_quietly
    from fieldtech.domain.billing import month_of, provider_statement, statement
    from fieldtech.domain.contracts import parse_month
    from fieldtech.offline_store import Store
    from fieldtech.offline_store.paths import data_dir, store_path
    from fieldtech.services import contracts
    from fieldtech.services.report_text import report_lines, statement_lines

    try:
        if args.month:
            parse_month(args.month)
    except ValueError:
        print(f"fieldtech report: --month {args.month!r} is not a month; write it as 2026-03.",
              file=sys.stderr)
        return 2
    path = store_path(data_dir(args.data_dir))
    if not path.exists():
        print(f"fieldtech report: no store at {path} yet.", file=sys.stderr)
        return 1
    with Store(path) as store:
        if not args.no_sync:
            _sync_quietly(store)
        # the contractor's month (the account's time zone, learned at a sync), not this computer's
        month = args.month or month_of(store.today())
        book = contracts.load_book(store)  # ContractError: main() prints it, exit 1
        if args.what == "summary":
            result = contracts.report(store, month)
            out = contracts.report_csv(result) if args.csv else "\n".join(report_lines(result))
        elif args.what == "statements":
            out = contracts.statements_csv(book, month) if args.csv else "\n\n".join(
                "\n".join(statement_lines(statement(book, c, month), book.names))
                for c in book.customers()) or (
                f"No customer statements for {month}: no customer has an agreement here "
                "(A on a customer in the app signs one).")
        else:
            p = provider_statement(book, month)
            out = contracts.provider_csv(book, month) if args.csv else "\n".join(
                statement_lines(p, book.names))
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0
