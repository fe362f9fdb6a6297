"""Issue 18: what each action costs an SSH user, in bytes and in time.

    python bench/bench_ssh.py [--controllers 10000] [--idle 60] [--pty-only]
                              [--rtt 80,300] [--loss 0.02] [--held 5] [--first-s 5]
                              [--s-after 5] [--tree /work/main]

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
import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import astuple, dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_tui import LIVE, Term, env_for, load, plain  # noqa: E402

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

    def send(self, keys: bytes, label: str, gap: float = 0.0, quiet: float = QUIET,
             resize: tuple[int, int] | None = None) -> Result:
        """Write each of `keys` (a list when `gap` is set, one write otherwise), or resize the
        terminal to `resize` (rows, columns); wait until the output has been quiet for `quiet`
        seconds."""
        self.drain_quiet(quiet)
        if resize is not None:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", *resize, 0, 0))
            os.kill(self.proc.pid, signal.SIGWINCH)
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

    def drain_quiet(self, quiet: float = QUIET, at_most: float = 10.0) -> None:
        """Read until the output is quiet for `quiet` s (htop never is: `at_most` s)."""
        end = time.monotonic() + at_most
        while self._read(quiet) and time.monotonic() < end:
            pass

    def idle(self, seconds: float, label: str) -> Result:
        """What `seconds` without a key write."""
        self.drain_quiet()
        got = 0
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            got += len(self._read(min(left, 1.0)))
        return Result(label, float("nan"), float("nan"), got)


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


def fieldtech_actions(session: Session, idle: float, quiet: float = QUIET) -> list[Result]:
    """The issue's actions, in order, on a session showing the fleet."""
    def send(keys: bytes, label: str, **kwargs: float) -> Result:
        return session.send(keys, label, quiet=quiet, **kwargs)

    results = []
    # Scroll: walk to the bottom edge (not counted), then steps that scroll the list.
    for _ in range(24):
        send(DOWN, "walk")
    steps = sorted((send(DOWN, "Down when the list scrolls") for _ in range(8)),
                   key=lambda r: r.size)
    results.append(steps[len(steps) // 2])
    results[-1].action = "Down when the list scrolls (median of 8)"
    results.append(steps[-1])
    results[-1].action = "Down when the list scrolls (largest of 8)"
    results.append(send(DOWN * 60, "60 × Down held (30/s)", gap=1 / 30))
    results.append(send(UP * 60, "60 × Up held (30/s)", gap=1 / 30))
    results.append(send(b"s", "s (switcher open)"))
    results.append(send(b"1", "digit (controller painted)"))
    if idle:
        results.append(session.idle(idle, f"idle {idle:.0f} s on a controller"))
    results.append(send(ESC, "Esc (controller → fleet)"))
    if idle:
        results.append(session.idle(idle, f"idle {idle:.0f} s on the fleet"))
    send(b"f", "finder open")
    keys = sorted((send(ch.encode(), "finder key") for ch in "frnt"), key=lambda r: r.size)
    results.append(keys[len(keys) // 2])
    results[-1].action = "finder key (median of 4)"
    send(ESC, "close")
    return results


def row_writes(painted: bytes, cells: int = 10) -> Counter[int]:
    """How many times each screen line had text written to it: runs of at least `cells`
    characters after a cursor move (a scrollbar's two cells settling do not count)."""
    pieces = re.split(rb"\x1b\[(\d+);\d+H", painted)
    return Counter(int(row) for row, text in zip(pieces[1::2], pieces[2::2], strict=True)
                   if len(plain(text).decode(errors="replace")) >= cells)


def print_table(title: str, results: list[Result]) -> None:
    print(f"\n| {title} | first byte ms | last byte ms | bytes | frames |")
    print("|---|---|---|---|---|")
    for r in results:
        print(r.row())


def pty_part(args: argparse.Namespace, work: Path, first_customer: bytes) -> None:
    app = [sys.executable, "-m", "fieldtech"]
    # Writes the bytecode caches; not counted.
    warm = Session(app, env_for(work, ssh=True, tree=args.tree), cwd=args.tree)
    warm.read_until(first_customer)
    warm.close()
    session = Session(app, env_for(work, ssh=True, tree=args.tree), cwd=args.tree)
    session.read_until(first_customer)
    session.drain_quiet(0.5)
    start = Result("start-up", 0, (time.perf_counter() - session.started) * 1000,
                   len(session.screen))
    writes = row_writes(session.screen)
    print(f"start-up wrote {len(session.screen):,} B; the most any line was written: "
          f"{max(writes.values())} time(s) (line {max(writes, key=writes.get)}); "
          f"the first list line: {writes[2]}")
    results = [start, *fieldtech_actions(session, args.idle)]
    by_name = {r.action: r for r in results}
    s_key, digit = by_name["s (switcher open)"], by_name["digit (controller painted)"]
    results.append(Result("s + digit (sum)", s_key.first_ms, digit.last_ms,
                          s_key.size + digit.size, s_key.frames + digit.frames))
    for size in ((30, 100), (24, 80)):
        results.append(session.send(b"", f"resize to {size[1]}×{size[0]}", resize=size))
    held = [session.send(key * 60, f"60 × {name} held (30/s), again", gap=1 / 30)
            for _ in range(args.held) for key, name in ((DOWN, "Down"), (UP, "Up"))]
    after = s_after(session, args.s_after)
    if args.tapped:
        after["Down tapped, each 0.17 s after the frame before"] = [
            session.send(DOWN, "Down tapped", quiet=TAPPED_QUIET) for _ in range(args.tapped)]
    switcher = first_s(args) if args.first_s else []
    session.close()
    print_table("action (pty, 80×24, SSH profile)", results)
    for label, runs in (("held keys' last byte, ms after the last key", held),
                        ("first s after start-up, ms to its last byte", switcher),
                        *((f"{name}, ms to its last byte", runs)
                          for name, runs in after.items())):
        if runs:
            print_spread(label, runs)


# `s` right after other keys (each sent once the output has been quiet QUIET s, as a person
# does), and those keys: (keys, gap between them, what the result is called).
S_AFTER: list[tuple[bytes, float, str]] = [
    (DOWN, 0.0, "Down on the fleet (one step)"),
    (b"s", 0.0, "s after Down, on the fleet"),
    (b"1", 0.0, "digit 1 (controller painted)"),
    (b"s", 0.0, "s after a digit, on a controller"),
    (ESC, 0.0, "Esc (switcher closed)"),
    (b"s", 0.0, "s after Esc closed the switcher, on a controller"),
    (ESC, 0.0, "Esc (switcher closed)"),
    (ESC, 0.0, "Esc (controller → fleet)"),
    (b"s", 0.0, "s after Esc back to the fleet"),
    (ESC, 0.0, "Esc (switcher closed)"),
    (DOWN * 20, 1 / 30, "20 × Down held (30/s), last byte after the last key"),
    (b"s", 0.0, "s after held Down, on the fleet"),
    (ESC, 0.0, "Esc (switcher closed)"),
]


# Keys tapped this long after the frame before: when the `s` key's frame is rendered ahead
# (no frame for 0.1 s, no key for 0.15 s), so a key then waits for that rendering.
TAPPED_QUIET = 0.17


def s_after(session: Session, rounds: int) -> dict[str, list[Result]]:
    """`rounds` times through S_AFTER on a session showing the fleet: each action's results,
    by name, in the order first met."""
    results: dict[str, list[Result]] = {}
    for _ in range(rounds):
        for keys, gap, label in S_AFTER:
            results.setdefault(label, []).append(session.send(keys, label, gap=gap))
    return results


def first_s(args: argparse.Namespace) -> list[Result]:
    """`s` as the first key after start-up, in `args.first_s` fresh starts."""
    work = Path(tempfile.mkdtemp(prefix="ft-bench-first-s-"))
    first_customer, _ = seeded(work, args.controllers)
    return first_keys(args.first_s, lambda: Session(
        [sys.executable, "-m", "fieldtech"], env_for(work, ssh=True, tree=args.tree),
        cwd=args.tree), first_customer)


def first_keys(starts: int, start: Callable[[], Session], ready: bytes, quiet: float = 1.0,
               keys: tuple[bytes, ...] = (b"s",)) -> list[Result]:
    """`keys` (`s`, then any others) as the first keys after start-up, in `starts` fresh
    starts: one result a key a start, in order."""
    results = []
    for _ in range(starts):
        session = start()
        session.read_until(ready, timeout=60)
        session.drain_quiet(quiet)
        for key in keys:
            results.append(session.send(key, f"first {key.decode()}", quiet=quiet))
        session.close()
    return results


def print_spread(label: str, runs: list[Result]) -> None:
    last = sorted(r.last_ms for r in runs)
    p90 = last[min(len(last) - 1, int(0.9 * len(last)))]
    print(f"\n{label} ({len(last)}): median {last[len(last) // 2]:.0f}, p90 {p90:.0f}, max "
          f"{last[-1]:.0f}, {sum(ms <= 30 for ms in last)} ≤ 30, all "
          f"{' '.join(f'{ms:.0f}' for ms in last)}; bytes "
          f"{min(r.size for r in runs):,}–{max(r.size for r in runs):,}", flush=True)


@dataclass
class Wire:
    up_packets: int = 0
    up_bytes: int = 0
    down_packets: int = 0
    down_bytes: int = 0
    dropped: int = 0

    def __sub__(self, other: Wire) -> Wire:
        return Wire(*(a - b for a, b in zip(astuple(self), astuple(other), strict=True)))


class SshLink:
    """A network namespace with a real sshd on its 127.0.0.1:2222, its loopback slowed by an
    NFQUEUE rule and bench/link_delay.py (this kernel has no netem)."""

    PORT = 2222

    def __init__(self, work: Path):
        self.work = work
        self.ns = f"ftbench{os.getpid()}"
        self.procs: list[subprocess.Popen] = []
        self.delay: subprocess.Popen | None = None
        run = subprocess.run
        run(["ip", "netns", "add", self.ns], check=True)
        self.exec = ["ip", "netns", "exec", self.ns]
        run([*self.exec, "ip", "link", "set", "lo", "up"], check=True)
        for key in ("host_key", "client_key"):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / key)],
                check=True)
        (work / "authorized_keys").write_text((work / "client_key.pub").read_text())
        config = work / "sshd_config"
        config.write_text(textwrap.dedent(f"""\
            Port {self.PORT}
            ListenAddress 127.0.0.1
            HostKey {work / "host_key"}
            AuthorizedKeysFile {work / "authorized_keys"}
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PidFile {work / "sshd.pid"}
            LogLevel ERROR
            """))
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        self.procs.append(subprocess.Popen([*self.exec, "/usr/sbin/sshd", "-D", "-e", "-f",
                                            str(config)], stderr=subprocess.DEVNULL))
        for way in ("--dport", "--sport"):
            # --queue-bypass: with no reader (stopped), packets pass, so sessions can end.
            run([*self.exec, "iptables", "-A", "INPUT", "-i", "lo", "-p", "tcp", way,
                 str(self.PORT), "-j", "NFQUEUE", "--queue-num", "1", "--queue-bypass"],
                check=True)
        time.sleep(0.5)

    def set_link(self, rtt_ms: float, loss: float) -> None:
        if self.delay is not None:
            self.delay.kill()
            self.delay.wait()
        self.delay = subprocess.Popen(
            [*self.exec, sys.executable, str(ROOT / "bench" / "link_delay.py"), "--delay-ms",
             str(rtt_ms / 2), "--loss", str(loss), "--port", str(self.PORT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.delay.stdout is not None
        if self.delay.stdout.readline().strip() != "ready":
            raise RuntimeError("the NFQUEUE reader did not start (netfilterqueue installed?)")

    def wire(self) -> Wire:
        assert self.delay is not None and self.delay.stdin and self.delay.stdout
        self.delay.stdin.write("stats\n")
        self.delay.stdin.flush()
        return Wire(**json.loads(self.delay.stdout.readline()))

    def argv(self, command: str) -> list[str]:
        return [*self.exec, "ssh", "-tt", "-i", str(self.work / "client_key"), "-p",
                str(self.PORT), "-o", "StrictHostKeyChecking=no", "-o",
                "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@127.0.0.1",
                command]

    def close(self) -> None:
        for term in list(LIVE):  # the ssh clients first: their sessions end with them
            term.close()
        for proc in [self.delay, *self.procs]:
            if proc is not None:
                proc.terminate()
                proc.wait()
        subprocess.run(["ip", "netns", "del", self.ns], check=False)


def install_sshd() -> None:
    """openssh-server, iptables, htop from Debian's packages; netfilterqueue from PyPI."""
    if not (Path("/usr/sbin/sshd").exists() and shutil.which("iptables")
            and shutil.which("htop")):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "openssh-server", "iptables", "htop",
                        "libnetfilter-queue-dev", "build-essential"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    try:
        import netfilterqueue  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "netfilterqueue"],
                       check=True)


def ssh_part(args: argparse.Namespace, work: Path, first_customer: bytes) -> None:
    install_sshd()
    link = SshLink(work)
    lines = work / "lines.txt"
    lines.write_text("".join(f"line {n}: the quick brown fox jumps over the lazy dog\n"
                             for n in range(10_000)))
    fieldtech = (f"cd {args.tree} && TERM=xterm-256color FIELDTECH_DATA_DIR={work} "
                 f"FIELDTECH_CONFIG_DIR={work / 'config'} PYTHONPATH={args.tree} "
                 f"PYTHONPYCACHEPREFIX={work / 'pycache'} exec {sys.executable} -m fieldtech")
    try:
        for rtt, loss in [(float(r), 0.0) for r in args.rtt.split(",")] + [(80.0, args.loss)]:
            link.set_link(rtt, loss)
            # Quiet long enough for a retransmission, short of htop's 1.5 s refresh.
            quiet = min(1.2, 0.4 + 2.5 * rtt / 1000 + (0.5 if loss else 0))
            name = f"{rtt:.0f} ms RTT" + (f", {loss:.0%} loss" if loss else "")
            print(f"\n### {name} ({load()})\n")
            print("| program | action | first byte ms | last byte ms | pty B | wire B up/down "
                  "| packets up/down |")
            print("|---|---|---|---|---|---|---|")
            idle = args.idle if (rtt, loss) == (80.0, 0.0) else 0

            def show(program: str, result: Result, wire: Wire) -> None:
                print(f"| {program} | {result.action} | {result.first_ms:.0f} | "
                      f"{result.last_ms:.0f} | {result.size:,} | {wire.up_bytes:,}/"
                      f"{wire.down_bytes:,} | {wire.up_packets}/{wire.down_packets} |",
                      flush=True)

            for program, command, ready, actions in (
                    ("fieldtech", fieldtech, first_customer,
                     partial(fieldtech_actions, idle=idle, quiet=quiet)),
                    ("htop", "TERM=xterm-256color exec htop", b"PID",
                     partial(reference_actions, idle=idle, quiet=quiet)),
                    ("less", f"TERM=xterm-256color exec less {lines}", b"line 0",
                     partial(reference_actions, idle=0, quiet=quiet))):
                before = link.wire()
                session = Session(link.argv(command), env_for(work, ssh=False))
                session.read_until(ready, timeout=60)
                session.drain_quiet(quiet + 0.5)
                start = Result("start-up", 0, (time.perf_counter() - session.started) * 1000,
                               len(session.screen))
                show(program, start, link.wire() - before)
                for result, wire in actions_with_wire(session, link, actions):
                    show(program, result, wire)
                session.close()
            if args.first_s and (rtt, loss) == (80.0, 0.0):
                # Fresh starts over this link: `s` once the app is quiet, then digit 1.
                runs = first_keys(args.first_s, lambda: Session(
                    link.argv(fieldtech), env_for(work, ssh=False)), first_customer,
                    quiet=quiet + 0.5, keys=(b"s", b"1"))
                print_spread(f"over ssh at {name}: the first s after start-up, ms to its "
                             "last byte", runs[::2])
                print_spread(f"over ssh at {name}: then digit 1, ms to its last byte",
                             runs[1::2])
    finally:
        link.close()


def actions_with_wire(session: Session, link: SshLink, actions) -> list[tuple[Result, Wire]]:
    """Run `actions(session)`, with the wire counted around each of its sends."""
    out: list[tuple[Result, Wire]] = []
    send = session.send

    def counted(*a, **k) -> Result:
        before = link.wire()
        result = send(*a, **k)
        out.append((result, link.wire() - before))
        return result

    idle = session.idle

    def counted_idle(*a, **k) -> Result:
        before = link.wire()
        result = idle(*a, **k)
        out.append((result, link.wire() - before))
        return result

    session.send = counted  # type: ignore[method-assign]
    session.idle = counted_idle  # type: ignore[method-assign]
    wanted = actions(session)
    return [pair for pair in out if any(pair[0] is w for w in wanted)]


def reference_actions(session: Session, idle: float, quiet: float) -> list[Result]:
    results = []
    for _ in range(24):
        session.send(DOWN, "walk", quiet=quiet)
    steps = sorted((session.send(DOWN, "Down (scrolls)", quiet=quiet) for _ in range(5)),
                   key=lambda r: r.size)
    results.append(steps[len(steps) // 2])
    results.append(session.send(DOWN * 60, "60 × Down held (30/s)", gap=1 / 30, quiet=quiet))
    if idle:
        results.append(session.idle(idle, f"idle {idle:.0f} s"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of each idle wait")
    parser.add_argument("--pty-only", action="store_true")
    parser.add_argument("--rtt", default="80,300", help="round trips to measure, ms")
    parser.add_argument("--loss", type=float, default=0.02, help="loss on the 80 ms link")
    parser.add_argument("--held", type=int, default=0,
                        help="in the pty, hold Down then Up this many times more (last byte)")
    parser.add_argument("--first-s", type=int, default=0,
                        help="this many fresh starts timing the first s: in the pty, and over "
                             "ssh at 80 ms (then digit 1)")
    parser.add_argument("--s-after", type=int, default=0,
                        help="in the pty, this many rounds of s right after another key (Down, "
                             "a digit, Esc, held Down; S_AFTER), each key once the output is "
                             "quiet: ms to the last byte of each")
    parser.add_argument("--tapped", type=int, default=0,
                        help="in the pty, this many Down keys each sent TAPPED_QUIET s after "
                             "the output before: ms to the last byte of each")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="the fieldtech tree to run (e.g. /work/main; default: this one)")
    args = parser.parse_args()
    print(f"tree {args.tree}, {load()}")
    work = Path(tempfile.mkdtemp(prefix="ft-bench-ssh-"))
    first_customer, _ = seeded(work, args.controllers)
    pty_part(args, work, first_customer)
    if not args.pty_only:
        ssh_part(args, work, first_customer)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    finally:
        for term in list(LIVE):
            term.close()
