"""`fieldtech cloud …`: run the reference cloud service and bootstrap accounts on it.

Only argparse here; FastAPI, SQLAlchemy and uvicorn are imported inside the handlers, so the
TUI starts fast and works without the `server` extra.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_MISSING = "The cloud service needs the server extra: pip install 'fieldtech[server]'"


def default_db_url() -> str:
    from fieldtech.offline_store.paths import data_dir  # --data-dir, FIELDTECH_DATA_DIR

    return f"sqlite:///{data_dir() / 'cloud.sqlite3'}"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cloud = sub.add_parser("cloud", help="The reference cloud service (needs fieldtech[server]).")
    cloud_sub = cloud.add_subparsers(dest="cloud_command", metavar="COMMAND", required=True)

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db",
            help="sqlite:///path or postgresql://user:pw@host/db "
            "(default: a SQLite file in the user data dir).",
        )

    serve = cloud_sub.add_parser("serve", help="Run the API server.")
    db_option(serve)
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help="Default 127.0.0.1 (this machine only)."
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes.")
    serve.add_argument(
        "--forwarded-allow-ips", metavar="ADDRESSES",
        help="Load balancers whose X-Forwarded-For names the client (comma-separated; "
        "default 127.0.0.1): per-address limits must see the client, not the balancer.")
    serve.set_defaults(handler=_serve)

    create = cloud_sub.add_parser(
        "create-account", help="Create a contractor account and its admin."
    )
    db_option(create)
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True, help="The contractor's business name.")
    create.add_argument(
        "--tier",
        default="starter",
        choices=["starter", "contractor", "bronze", "silver", "gold", "platinum"],
    )
    create.add_argument(
        "--password",
        help="Default: asked for, or read from FIELDTECH_ACCOUNT_PASSWORD.",
    )
    create.set_defaults(handler=_create_account)

    codes = cloud_sub.add_parser("issue-plan-codes", help="Issue Enthusiast plan codes.")
    db_option(codes)
    codes.add_argument("count", type=int)
    codes.set_defaults(handler=_issue_codes)


def _database(url: str):  # type: ignore[no-untyped-def]
    from fieldtech.server.db import Database, make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    return Database(engine)


def _have_server_extra() -> bool:
    try:
        import alembic  # noqa: F401
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError:
        print(_MISSING, file=sys.stderr)
        return False
    return True


def _serve(args: argparse.Namespace) -> int:
    if not _have_server_extra():
        return 2
    import uvicorn

    from fieldtech.server.app import DB_URL_ENV, create_app
    from fieldtech.server.http_limits import uvicorn_options

    url = args.db or default_db_url()
    print(f"fieldtech cloud on http://{args.host}:{args.port} (db: {_redact(url)})")
    options = uvicorn_options()
    if args.forwarded_allow_ips:
        options["forwarded_allow_ips"] = args.forwarded_allow_ips
    if args.workers > 1:
        _database(url)  # migrate once, before the workers start
        os.environ[DB_URL_ENV] = url
        uvicorn.run(
            "fieldtech.server.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            **options,
        )
    else:
        uvicorn.run(create_app(url), host=args.host, port=args.port, **options)
    return 0


def _create_account(args: argparse.Namespace) -> int:
    if not _have_server_extra():
        return 2
    from fieldtech.domain.plans import Tier
    from fieldtech.server.accounts import create_account

    password = args.password or os.environ.get("FIELDTECH_ACCOUNT_PASSWORD")
    if not password:
        password = getpass.getpass("Password for the new account's admin: ")
    try:
        new = create_account(
            _database(args.db or default_db_url()),
            email=args.email,
            password=password,
            name=args.name,
            tier=Tier(args.tier),
        )
    except ValueError as exc:
        print(f"Not created: {exc}", file=sys.stderr)
        return 1
    print(f"Account {new.account_id} created; sign in as {args.email}.")
    return 0


def _issue_codes(args: argparse.Namespace) -> int:
    if not _have_server_extra():
        return 2
    from fieldtech.server.accounts import issue_plan_codes

    for code in issue_plan_codes(_database(args.db or default_db_url()), args.count):
        print(code)
    return 0


def _redact(url: str) -> str:
    """The URL without its password, for the start-up line."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url
