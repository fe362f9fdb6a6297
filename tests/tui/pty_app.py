"""The real app on a real pty (80×24, the SSH profile), its output played on a terminal
emulator (pyte): what a person over SSH sees, and how many bytes it took. Pilot cannot show
this: headless, Textual writes nothing and its key parser never runs."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte

ROOT = Path(__file__).resolve().parents[2]
QUIET = 0.4  # output idle this long: the app has answered


def shown(char: pyte.screens.Char) -> tuple[str, str, str, bool]:
    """What a cell shows: its character, colours and boldness; a plain space shows only its
    background (the terminal module writes spaces in whatever colour it has)."""
    if char.data == " " and not (char.reverse or char.underscore or char.strikethrough):
        return " ", "default", char.bg, False
    return char.data, char.fg, char.bg, char.bold


class PtyApp:
    def __init__(self, data_dir: Path, rows: int = 24, cols: int = 80):
        self.master, slave = pty.openpty()
        self._winsize(rows, cols, slave)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
        env.update(TERM="xterm-256color", FIELDTECH_DATA_DIR=str(data_dir),
                   FIELDTECH_CONFIG_DIR=str(data_dir / "config"),
                   SSH_CONNECTION="127.0.0.1 50000 127.0.0.1 22",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
        (data_dir / "config").mkdir(parents=True, exist_ok=True)
        (data_dir / "config" / "settings.toml").write_text("cursor_blink = false\n")
        self.proc = subprocess.Popen([sys.executable, "-m", "fieldtech"], stdin=slave,
                                     stdout=slave, stderr=slave, env=env, close_fds=True,
                                     start_new_session=True)
        os.close(slave)
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.written = b""

    def _winsize(self, rows: int, cols: int, fd: int | None = None) -> None:
        fcntl.ioctl(self.master if fd is None else fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return b""
        self.written += data
        self.stream.feed(data)
        return data

    def settle(self, quiet: float = QUIET) -> bytes:
        """What the app writes until it has been quiet for `quiet` seconds."""
        got = b""
        while data := self.read(quiet):
            got += data
        return got

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} never shown:\n{self.text()}")
            self.read(0.5)
        self.settle()

    def press(self, keys: bytes) -> bytes:
        """Write `keys` in one write; what the app writes in answer."""
        self.settle(0.1)
        os.write(self.master, keys)
        return self.settle()

    def resize(self, rows: int, cols: int) -> bytes:
        self._winsize(rows, cols)
        self.screen.resize(rows, cols)
        os.kill(self.proc.pid, signal.SIGWINCH)
        return self.settle()

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def cells(self) -> list[list[tuple[str, str, str, bool]]]:
        return [[shown(c) for c in
                 (self.screen.buffer[y][x] for x in range(self.screen.columns))]
                for y in range(self.screen.lines)]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)
