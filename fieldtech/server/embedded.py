"""The reference cloud service inside this process, on a free 127.0.0.1 port.

`fieldtech demo`, the sync tests and the sync benchmark use it: a real uvicorn server with a
real database, running in a daemon thread, so the client talks real HTTP to it.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from fieldtech.server.db import Database

EMBEDDED_STOP_GRACE_S = 0.5


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class EmbeddedServer:
    """`with EmbeddedServer("sqlite:///cloud.sqlite3") as server: server.url`."""

    def __init__(self, db_url: str, **app_options: Any):
        import uvicorn

        from fieldtech.server.app import create_app
        from fieldtech.server.http_limits import uvicorn_options

        self.app = create_app(db_url, **app_options)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Its clients are this process's own (the app, the demo's controllers), stopping with
        # it: a long-poll still open is cut at once, not given the deployed server's grace.
        options = uvicorn_options() | {"timeout_graceful_shutdown": EMBEDDED_STOP_GRACE_S}
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, lifespan="on",
                                **options)
        self._server = uvicorn.Server(config)
        # uvicorn installs signal handlers only in the main thread; in a thread it leaves the
        # app's own (the TUI's) alone.
        self._thread = threading.Thread(target=self._server.run, name="fieldtech-cloud",
                                        daemon=True)

    @property
    def db(self) -> Database:
        return self.app.state.server.db

    def start(self, timeout: float = 20.0) -> EmbeddedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The embedded cloud service did not start.")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.db.engine.dispose()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
