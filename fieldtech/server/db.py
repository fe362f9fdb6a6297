"""Engines, transactions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from fieldtech.server.tables import AccountRow

ALEMBIC_DIR = Path(__file__).with_name("alembic")
POOL_ENV = "FIELDTECH_DB_POOL_SIZE"  # connections each worker keeps (PostgreSQL)
OVERFLOW_ENV = "FIELDTECH_DB_MAX_OVERFLOW"  # and may open beyond them under load
_MIGRATION_LOCK = 0x46544D49  # "FTMI": PostgreSQL advisory lock so two workers migrate once


def normalize_url(url: str) -> str:
    """Accept the URLs people type (`postgresql://…`) and use the driver we ship (psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # No pre-ping: it costs a round trip per request; recycling retires idle connections instead.
    # Per worker process; with many workers on one PostgreSQL the sum must stay under its
    # max_connections (docs/server.md, "Deploying"): POOL_ENV / OVERFLOW_ENV set them.
    return create_engine(url, pool_size=int(os.environ.get(POOL_ENV) or 10),
                         max_overflow=int(os.environ.get(OVERFLOW_ENV) or 20),
                         pool_recycle=1800)


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[-1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Readable by this user only (password hashes, customers' addresses); SQLite gives its
        # -wal and -shm files the same mode.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=10,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # pysqlite's own BEGIN handling is off so we can say BEGIN IMMEDIATE below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # Take the write lock up front: a deferred transaction that reads and then writes can
        # fail with SQLITE_BUSY instead of waiting when another writer got in between.
        read_only = conn.get_execution_options().get("ft_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (run at start-up)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()


class Database:
    """Opens transactions: `read()` for queries, `write(account_id)` for changes to an account."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_engine = engine.execution_options(ft_read_only=True)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        # SQLite has one writer; threads waiting on its file lock back off with sleeps of up to
        # 100 ms. Queueing writers of this process on a Python lock instead keeps latency low.
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection for queries on hot paths that need no ORM (device polls)."""
        with self._read_engine.connect() as conn:
            yield conn

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core transaction that commits on success, queued like `write()`'s (heartbeats)."""
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def write(self, account_id: str | None = None) -> Iterator[Session]:
        """A transaction that commits on success. With `account_id`, the account row is locked
        first, so every writer of one account takes its locks in the same order (no deadlocks)
        and the change-log sequence is handed out in commit order."""
        with self._write_lock, self._sessions() as session, session.begin():
            if account_id is not None:
                session.execute(
                    select(AccountRow.id).where(AccountRow.id == account_id).with_for_update()
                )
            yield session
