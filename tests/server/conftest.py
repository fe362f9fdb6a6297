"""The reference server on a real 127.0.0.1 port, once per database backend.

Every test taking `server` runs twice: on a SQLite file and on PostgreSQL. PostgreSQL needs
FIELDTECH_TEST_POSTGRES_URL (.ci/postgres.sh sets it); without it that half is skipped on a
developer's machine and fails in CI. Tests stay independent by each making fresh accounts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from server_helpers import TEST_LIMITS, Account, Clock, Server, fresh_database

from fieldtech.server.app import create_app
from fieldtech.server.http_limits import uvicorn_options


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with fresh_database(request.param, tmp_path_factory.mktemp("cloud")) as db_url:
        yield from _serve(request.param, db_url)


def _serve(backend: str, db_url: str) -> Iterator[Server]:
    clock = Clock()
    app = create_app(db_url, clock=clock, limits=TEST_LIMITS)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", **uvicorn_options())
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name=f"uvicorn-{backend}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    srv = Server(backend, f"http://127.0.0.1:{port}", app.state.server.db, clock, app)
    try:
        yield srv
    finally:
        for c in srv._clients:
            c.close()
        uv.should_exit = True
        thread.join(timeout=10)
        app.state.server.db.engine.dispose()


@pytest.fixture
def acme(server: Server) -> Account:
    """A Starter account."""
    return server.account()


@pytest.fixture
def rival(server: Server) -> Account:
    """Another contractor, who must never see acme's records."""
    return server.account()
