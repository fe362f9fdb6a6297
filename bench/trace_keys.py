"""Issue 18: where a key's milliseconds go, from its read to its frame's write.

    python bench/trace_keys.py [--keys "s 1 esc s 2 esc"] [--controllers 10000] [--all]
                               [--data-dir DIR] [--tree /work/main] [--summary]

Runs the app in a real pty at 80×24 (the SSH profile), sends each key (`esc`, `down` or the
key itself; `down*60`: held, 60 at 30 a second) once the screen is quiet, and prints for
each what the app did, in ms from the moment its driver read the key (held: the last one):
the key's dispatch, actions, screen pushes and pops, composes, style updates, layouts,
Textual's frame timer, the compositor's render, the shadow's diff, a frame held back while
keys are held (`_coalesce`), each write, worker threads starting and ending, and garbage
collections. The timestamps come from wrappers around those functions (in the app's
process; `--all` prints the idle and message-level ones too). Wrapping costs a little: read
the gaps, not the total, against bench_ssh.py's figures.

`--data-dir`: a copy of a seeded store (its `fieldtech.db`) instead of seeding one (100,000
controllers take 10-20 s to seed); nine recents are added to it as the seeding does, and its
settings written. `--tree`: run that checkout's fieldtech (compare in turns with this one).
`--summary`: one line of each key's last byte instead of the timelines.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_ssh import QUIET, Result, Session, seeded  # noqa: E402
from bench_tui import env_for, load  # noqa: E402

KEYS = {"esc": b"\x1b", "down": b"\x1b[B", "up": b"\x1b[A", "enter": b"\r"}
NOISY = ("_on_idle", "_on_update", "update_widgets", "gc start", "gc stop 0")

# Runs in the app's process (python -c): wraps the functions, logs (time, thread, what),
# writes the log at exit, then runs fieldtech's CLI.
TRACED = r'''
import atexit, functools, gc, inspect, os, sys, threading, time
LOG = []
def mark(what):
    LOG.append((time.perf_counter(), threading.current_thread().name[:8], what))
def wrap(cls, name, whose=False):
    fn = cls.__dict__.get(name)
    if fn is None:
        return
    label = f"{cls.__name__}.{name}"
    def labelled(a):  # whose: the node it was called on, too
        if not (whose and a):
            return label
        node = a[0]
        return f"{label} {type(node).__name__}#{getattr(node, 'id', None)}"
    if inspect.iscoroutinefunction(fn):
        async def wrapped(*a, **k):
            mark(">" + labelled(a))
            try:
                return await fn(*a, **k)
            finally:
                mark("<" + labelled(a))
    else:
        def wrapped(*a, **k):
            mark(">" + labelled(a))
            try:
                return fn(*a, **k)
            finally:
                mark("<" + labelled(a))
    setattr(cls, name, functools.wraps(fn)(wrapped))
gc.callbacks.append(lambda phase, info: mark(f"gc {phase} {info['generation']}"))
@atexit.register
def dump():
    with open(os.environ["FIELDTECH_TRACE"], "w") as out:
        out.writelines(f"{t:.6f}\t{th}\t{what}\n" for t, th, what in LOG)

from textual import events
from textual._compositor import Compositor
from textual.app import App
from textual.dom import DOMNode
from textual.screen import Screen
from textual.worker import Worker
import fieldtech.app as fa
from fieldtech.screens import services, switcher
from fieldtech.terminal.driver import FrameWriter, TerminalDriver
from fieldtech.terminal.output import SparingTerminal
from fieldtech.terminal.shadow import TerminalShadow

read = TerminalDriver._read
def _read(self):
    data = read(self)
    mark(f"READ {data!r}")
    return data
TerminalDriver._read = _read
write_now = FrameWriter.write_now
def _write_now(self, text):
    now = write_now(self, text)
    mark(f"WRITE {len(text)} B " + ("by the app's thread" if now else "queued"))
    return now
FrameWriter.write_now = _write_now
on_event = App.on_event
async def _on_event(self, event):
    if isinstance(event, events.Key):
        mark(f">KEY {event.key}")
    return await on_event(self, event)
App.on_event = _on_event
run_threaded = Worker._run_threaded
async def _run_threaded(self):
    mark(f">WORKER {self.name}")
    try:
        return await run_threaded(self)
    finally:
        mark(f"<WORKER {self.name}")
Worker._run_threaded = _run_threaded
for cls, names in [
        (App, ["push_screen", "pop_screen", "run_action"]),
        (fa.FieldtechApp, ["open_controller", "controller_screen", "_pick"]),
        (Screen, ["_on_timer_update", "_refresh_layout", "_compositor_refresh",
                  "_on_screen_resume", "_on_idle", "_compose", "_on_update", "mount"]),
        (services.FieldtechScreen, ["_warm", "_on_screen_resume"]),
        (switcher.Switcher, ["open", "_rehearse", "_write_ahead", "_show_opening"]),
        (DOMNode, ["update_node_styles"]),
        (Compositor, ["reflow", "update_widgets", "_render_chops", "render_update"]),
        (SparingTerminal, ["_display", "_coalesce", "_flush_frame"]),
        (TerminalShadow, ["apply", "flush", "ahead"])]:
    for name in names:
        wrap(cls, name)
import importlib
for extra in filter(None, os.environ.get("FIELDTECH_TRACE_WRAP", "").split()):
    module, _, qualname = extra.partition(":")
    cls_name, _, name = qualname.rpartition(".")
    wrap(getattr(importlib.import_module(module), cls_name), name, whose=True)
from fieldtech.cli import main
sys.exit(main())
'''


def timeline(trace: Path, show_all: bool) -> list[tuple[float, list[str]]]:
    """The log cut at each action (reads of keys closer than QUIET / 2 are one action, keys
    held): per action, its last read's time and its lines in ms from that read."""
    entries = [line.split("\t", 2) for line in trace.read_text().splitlines()]
    reads = [i for i, (_, _, what) in enumerate(entries) if what.startswith("READ")]
    starts = [i for n, i in enumerate(reads)  # each action's last read
              if n + 1 == len(reads) or float(entries[reads[n + 1]][0]) - float(entries[i][0])
              > QUIET / 2]
    actions: list[tuple[float, list[str]]] = []
    for n, first in enumerate(starts):
        start = float(entries[first][0])
        end = len(entries) if n + 1 == len(starts) else next(
            i for i in reads if i > first)  # the next action's first read
        actions.append((start, [f"{(float(t) - start) * 1000:8.2f}  {thread:8}  {what}"
                                for t, thread, what in entries[first:end]
                                if show_all or not any(n in what for n in NOISY)]))
    return actions


class StampedSession(Session):
    """A Session that notes when it writes each key (perf_counter is the system's monotonic
    clock, the app's stamps' clock too): the time from the key sent to the driver's read."""

    sent_at: float = 0.0

    def send(self, keys: bytes, label: str, **kwargs: float) -> Result:  # type: ignore[override]
        real = os.write

        def write(fd: int, data: bytes) -> int:
            if fd == self.master:
                self.sent_at = time.perf_counter()
            return real(fd, data)

        os.write = write
        try:
            result = super().send(keys, label, **kwargs)
        finally:
            os.write = real
        result.sent_at = self.sent_at  # type: ignore[attr-defined]
        return result


def recents_in(work: Path) -> bytes:
    """A seeded store's first customer (what the fleet shows first), its recents set to the
    nine `seeded` gives (every run, so that runs in turns switch between the same ones)."""
    from fieldtech.offline_store import Store

    with sqlite3.connect(work / "fieldtech.db") as db:
        db.execute("DELETE FROM recent")
    store = Store(work / "fieldtech.db")
    rows = [r for r in store.fleet_rows() if r.controller_id]
    for r in reversed(rows[:: max(1, len(rows) // 9)][:9]):
        store.touch_recent(r.controller_id)
        time.sleep(0.002)
    store.close()
    (work / "config").mkdir(exist_ok=True)
    (work / "config" / "settings.toml").write_text("cursor_blink = false\n")
    return rows[0].customer_name.encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", default="s 1 esc s 2 esc")
    parser.add_argument("--controllers", type=int, default=10_000)
    parser.add_argument("--all", action="store_true", help="idle and message-level points too")
    parser.add_argument("--pause", type=float, default=QUIET,
                        help="seconds between a key's output going quiet and the next key "
                             "(what the app does meanwhile, e.g. render ahead, is traced too)")
    parser.add_argument("--data-dir", type=Path, help="a copy of a seeded store (written to)")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to run")
    parser.add_argument("--summary", action="store_true", help="each key's last byte only")
    parser.add_argument("--wrap", default="", help="more to trace, with the node it ran on: "
                        "'textual.widget:Widget.render_lines fieldtech.app:FieldtechApp.x'")
    args = parser.parse_args()
    if args.data_dir:
        work = args.data_dir
        first_customer = recents_in(work)
    else:
        work = Path(tempfile.mkdtemp(prefix="ft-trace-keys-"))
        first_customer, _ = seeded(work, args.controllers)
    env = env_for(work, ssh=True, tree=args.tree)
    env["FIELDTECH_TRACE"] = str(work / "trace.tsv")
    env["FIELDTECH_TRACE_WRAP"] = args.wrap
    session = StampedSession([sys.executable, "-c", TRACED], env)
    session.read_until(first_customer)
    session.drain_quiet(1.0)
    sent = []
    for key in args.keys.split():
        key, _, times = key.partition("*")  # "down*60": held, 30 a second
        keys = KEYS.get(key, key.encode())
        result = (session.send(keys * int(times), f"{key} × {times} held (30/s)", gap=1 / 30)
                  if times else session.send(keys, key))
        sent.append(result)
        time.sleep(args.pause)
    session.send(b"q", "quit")
    try:
        session.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        session.close()
    if args.summary:
        print(f"{args.tree} ({load()}): " + " ".join(
            f"{r.action}={r.last_ms:.0f}" for r in sent))
        return
    for result, (read_at, lines) in zip(
            sent, timeline(work / "trace.tsv", args.all)[-len(sent) - 1:], strict=False):
        print(f"\n## {result.action}: first byte {result.first_ms:.0f} ms, last "
              f"{result.last_ms:.0f} ms, {result.size:,} B, {result.frames} frame(s); "
              f"the (last) key read {(read_at - result.sent_at) * 1000:.1f} ms after it was "
              "written")
        print(*lines, sep="\n")


if __name__ == "__main__":
    main()
