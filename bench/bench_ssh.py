"""Issue 18: what each action costs an SSH user, in bytes and in time.

    python bench/bench_ssh.py [--controllers 10000] [--idle 60] [--pty-only]
                              [--rtt 80,300] [--loss 0.02]

1. In a real pty at 80×24 (the SSH profile: 256 colours): bytes each action writes, frames,
   and ms to its first and last byte; start-up (and how often the first customer row is
   painted), a scroll step, 60 held Down keys at 30/s, `s`, a digit, a finder key, Esc,
   an idle minute on the fleet and on a controller.
2. (unless --pty-only) The same actions through `ssh -tt` to a real sshd on 127.0.0.1 with the
   link delayed and lossy (see bench/ssh_link.py), beside htop and less over the same link:
   ms to first and last byte, bytes on the pty, bytes and packets on the wire.

Loopback only; every process it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_tui import LIVE, Term, env_for, plain  # noqa: E402

from fieldtech.offline_store import Store  # noqa: E402
from fieldtech.offline_store.seed import seed_store  # noqa: E402

QUIET = 0.3  # output idle this long: the action's output has ended
DOWN, UP, ESC = b"\x1b[B", b"\x1b[A", b"\x1b"


@dataclass
class Result:
    action: str
    first_ms: float  # key sent to the first byte back
    last_ms: float  # key (the last key, for a burst) to the last byte of the burst
    size: int  # bytes on the pty
    frames: int = 0

    def row(self) -> str:
        return (f"| {self.action} | {self.first_ms:.0f} | {self.last_ms:.0f} | "
                f"{self.size:,} | {self.frames} |")


class Session(Term):
    """A Term that times the first and the last byte of what keys cause."""

    def send(self, keys: bytes, label: str, gap: float = 0.0, quiet: float = QUIET) -> Result:
        """Write each of `keys` (a list when `gap` is set, one write otherwise); wait until
        the output has been quiet for `quiet` seconds."""
        self.drain_quiet(quiet)
        chunks = [keys] if not gap else [keys[i:i + 1] for i in range(len(keys))]
        if gap and keys.startswith(b"\x1b["):
            chunks = [keys[i:i + 3] for i in range(0, len(keys), 3)]
        burst = b""
        first = last = None
        frames = 0
        sent = last_key = time.perf_counter()
        pending = list(chunks)
        next_at = sent
        while True:
            now = time.perf_counter()
            if pending and now >= next_at:
                os.write(self.master, pending.pop(0))
                last_key = now
                next_at = now + gap
            timeout = max(0.0, next_at - now) if pending else quiet
            ready, _, _ = select.select([self.master], [], [], timeout)
            if not ready:
                if pending:
                    continue
                if burst or time.perf_counter() - sent > 3:
                    break
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            now = time.perf_counter()
            if first is None:
                first = now
            if last is None or now - last > 0.012:
                frames += 1
            last = now
            burst += data
            self.screen += data
        self.last_burst = burst
        if first is None:
            return Result(label, float("nan"), float("nan"), 0, 0)
        return Result(label, (first - sent) * 1000, (last - last_key) * 1000, len(burst), frames)

    def drain_quiet(self, quiet: float = QUIET) -> None:
        while self._read(quiet):
            pass

    def idle_bytes(self, seconds: float) -> int:
        self.drain_quiet()
        got = 0
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            got += len(self._read(min(left, 1.0)))
        return got


def seeded(work: Path, controllers: int) -> tuple[bytes, list[str]]:
    """A store of `controllers` controllers with nine recents; (first customer, recents)."""
    store = Store(work / "fieldtech.db")
    seed_store(store, controllers // 4, controllers)
    rows = [r for r in store.fleet_rows() if r.controller_id]
    picks = rows[:: max(1, len(rows) // 9)][:9]
    for r in reversed(picks):
        store.touch_recent(r.controller_id)
        time.sleep(0.002)
    store.close()
    (work / "config").mkdir(exist_ok=True)
    (work / "config" / "settings.toml").write_text("cursor_blink = false\n")
    return rows[0].customer_name.encode(), [r.name for r in picks]


def count_row_paints(painted: bytes, text: bytes) -> int:
    """How many times `text` (a row's words) was written: painted text without sequences."""
    return len(re.findall(re.escape(text), plain(painted)))


def fieldtech_actions(session: Session, first_customer: bytes, idle: float) -> list[Result]:
    """The issue's actions, in order, on a session showing the fleet."""
    results = []
    # Scroll: walk to the bottom edge (not counted), then steps that scroll the list.
    for _ in range(24):
        session.send(DOWN, "walk")
    steps = [session.send(DOWN, "Down (list scrolls)") for _ in range(8)]
    steps.sort(key=lambda r: r.size)
    results.append(steps[len(steps) // 2])
    results[-1].action = "Down when the list scrolls (median of 8)"
    results.append(max(steps, key=lambda r: r.size))
    results[-1].action = "Down when the list scrolls (largest of 8)"
    results.append(session.send(DOWN * 60, "60 × Down held (30/s)", gap=1 / 30))
    results.append(session.send(UP * 60, "60 × Up held (30/s)", gap=1 / 30))
    results.append(session.send(b"s", "s (switcher open)"))
    results.append(session.send(b"1", "digit (controller painted)"))
    switch = Result("s + digit", results[-2].first_ms, results[-1].last_ms,
                    results[-2].size + results[-1].size, results[-2].frames + results[-1].frames)
    results.append(switch)
    if idle:
        results.append(Result(f"idle {idle:.0f} s on a controller", 0, 0,
                              session.idle_bytes(idle)))
    results.append(session.send(ESC, "Esc (controller → fleet)"))
    if idle:
        results.append(Result(f"idle {idle:.0f} s on the fleet", 0, 0, session.idle_bytes(idle)))
    session.send(b"f", "finder open")
    keys = [session.send(ch.encode(), "finder key") for ch in "frnt"]
    keys.sort(key=lambda r: r.size)
    results.append(keys[len(keys) // 2])
    results[-1].action = "finder key (median of 4)"
    session.send(ESC, "close")
    return results


def pty_part(args: argparse.Namespace, work: Path) -> None:
    first_customer, _ = seeded(work, args.controllers)
    app = [sys.executable, "-m", "fieldtech"]
    warm = Session(app, env_for(work, ssh=True))  # writes the bytecode caches; not counted
    warm.read_until(first_customer)
    warm.close()
    session = Session(app, env_for(work, ssh=True))
    session.read_until(first_customer)
    session.drain_quiet(0.5)
    start = Result("start-up", 0, (time.perf_counter() - session.started) * 1000,
                   len(session.screen))
    print(f"start-up wrote {len(session.screen):,} B; the first customer's name written "
          f"{count_row_paints(session.screen, first_customer)} time(s)")
    results = [start, *fieldtech_actions(session, first_customer, args.idle)]
    session.close()
    print("\n| action (pty, 80×24, SSH profile) | first byte ms | last byte ms | bytes | frames |")
    print("|---|---|---|---|---|")
    for r in results:
        print(r.row())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of each idle wait")
    parser.add_argument("--pty-only", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ft-bench-ssh-"))
    pty_part(args, work)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    finally:
        for term in list(LIVE):
            term.close()
