"""Issue 18: where a key's milliseconds go, from its read to its frame's write.

    python bench/trace_keys.py [--keys "s 1 esc s 2 esc"] [--controllers 10000] [--all]

Runs the app in a real pty at 80×24 (the SSH profile), sends each key (`esc`, `down` or the
key itself; `down*60`: held, 60 at 30 a second) once the screen is quiet, and prints for
each what the app did, in ms from the moment its driver read the key (held: the last one):
the key's dispatch, actions, screen pushes and pops, composes, style updates, layouts,
Textual's frame timer, the compositor's render, the shadow's diff, a frame held back while
keys are held (`_coalesce`), each write, worker threads starting and ending, and garbage
collections. The timestamps come from wrappers around those functions (in the app's
process; `--all` prints the idle and message-level ones too). Wrapping costs a little: read
the gaps, not the total, against bench_ssh.py's figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_ssh import QUIET, Session, seeded  # noqa: E402
from bench_tui import env_for  # noqa: E402

KEYS = {"esc": b"\x1b", "down": b"\x1b[B", "up": b"\x1b[A", "enter": b"\r"}
NOISY = ("_on_idle", "_on_update", "update_widgets", "gc start", "gc stop 0")

# Runs in the app's process (python -c): wraps the functions, logs (time, thread, what),
# writes the log at exit, then runs fieldtech's CLI.
TRACED = r'''
import atexit, functools, gc, inspect, os, sys, threading, time
LOG = []
def mark(what):
    LOG.append((time.perf_counter(), threading.current_thread().name[:8], what))
def wrap(cls, name):
    fn = cls.__dict__.get(name)
    if fn is None:
        return
    label = f"{cls.__name__}.{name}"
    if inspect.iscoroutinefunction(fn):
        async def wrapped(*a, **k):
            mark(">" + label)
            try:
                return await fn(*a, **k)
            finally:
                mark("<" + label)
    else:
        def wrapped(*a, **k):
            mark(">" + label)
            try:
                return fn(*a, **k)
            finally:
                mark("<" + label)
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
from fieldtech.cli import main
sys.exit(main())
'''


def timeline(trace: Path, show_all: bool) -> list[list[str]]:
    """The log cut at each action (reads of keys closer than QUIET / 2 are one action, keys
    held): per action, its lines in ms from its last read (the last key held)."""
    entries = [line.split("\t", 2) for line in trace.read_text().splitlines()]
    reads = [i for i, (_, _, what) in enumerate(entries) if what.startswith("READ")]
    starts = [i for n, i in enumerate(reads)  # each action's last read
              if n + 1 == len(reads) or float(entries[reads[n + 1]][0]) - float(entries[i][0])
              > QUIET / 2]
    actions: list[list[str]] = []
    for n, first in enumerate(starts):
        start = float(entries[first][0])
        end = len(entries) if n + 1 == len(starts) else next(
            i for i in reads if i > first)  # the next action's first read
        actions.append([f"{(float(t) - start) * 1000:8.2f}  {thread:8}  {what}"
                        for t, thread, what in entries[first:end]
                        if show_all or not any(n in what for n in NOISY)])
    return actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", default="s 1 esc s 2 esc")
    parser.add_argument("--controllers", type=int, default=10_000)
    parser.add_argument("--all", action="store_true", help="idle and message-level points too")
    parser.add_argument("--pause", type=float, default=QUIET,
                        help="seconds between a key's output going quiet and the next key "
                             "(what the app does meanwhile, e.g. render ahead, is traced too)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ft-trace-keys-"))
    first_customer, _ = seeded(work, args.controllers)
    env = env_for(work, ssh=True)
    env["FIELDTECH_TRACE"] = str(work / "trace.tsv")
    session = Session([sys.executable, "-c", TRACED], env)
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
    for result, lines in zip(sent, timeline(work / "trace.tsv", args.all)[-len(sent) - 1:],
                             strict=False):
        print(f"\n## {result.action}: first byte {result.first_ms:.0f} ms, last "
              f"{result.last_ms:.0f} ms, {result.size:,} B, {result.frames} frame(s)")
        print(*lines, sep="\n")


if __name__ == "__main__":
    main()
