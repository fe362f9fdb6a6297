"""Stopping the cloud while a client's long-poll waits: the server stops within its grace,
not when the poll's wait would end (the demo's quit waited 10 s for the app's open poll)."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import FAST_RETRY, PASSWORD

from fieldtech.cloud.api import CloudAPI
from fieldtech.server.accounts import create_account
from fieldtech.server.embedded import EmbeddedServer


def test_a_waiting_long_poll_does_not_hold_the_cloud_open(tmp_path: Path) -> None:
    server = EmbeddedServer(f"sqlite:///{tmp_path / 'cloud.sqlite3'}").start()
    create_account(server.db, email="stop@example.com", password=PASSWORD, name="Stop")
    with CloudAPI(server.url, retry=FAST_RETRY) as api:
        token = api.login("stop@example.com", PASSWORD)["token"]
    api = CloudAPI(server.url, token, retry=FAST_RETRY)
    cursor = api.changes(0)["cursor"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        polled = pool.submit(api.changes, cursor, wait=30)  # nothing will change
        time.sleep(1.0)  # the request reaches the server and waits
        assert not polled.done()
        server.stop()  # joins the server's thread for at most 10 s
        # The thread ended: stop() did not give up on it while the poll still held it.
        assert not server._thread.is_alive()
        with contextlib.suppress(Exception):  # cut (the client's error) or answered empty
            polled.result(timeout=25)
        assert polled.done()  # the poll ended too, well before its 30 s
    api.close()
