"""The app in a real pty: when the terminal's other end goes away without a hang-up signal,
it quits instead of spinning (Textual's input thread would poll the dead pty at full speed)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path


def test_app_quits_when_its_terminal_vanishes(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "FIELDTECH_DATA_DIR": str(tmp_path / "d"),
           "FIELDTECH_CONFIG_DIR": str(tmp_path / "c")}
    app = subprocess.Popen([sys.executable, "-m", "fieldtech"], stdin=slave, stdout=slave,
                           stderr=slave, env=env, close_fds=True)
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 30
        while b"Welcome" not in seen and time.monotonic() < deadline:  # the first-run screen
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
        assert b"Welcome" in seen, "the app never painted"
        os.close(master)  # the terminal goes; no SIGHUP (the pty is not its controlling tty)
        app.wait(timeout=15)  # quits within a few seconds instead of spinning
        assert app.returncode is not None
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
