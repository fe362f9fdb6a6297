"""Controller-link figures on loopback: mDNS discovery, serial probes, config read/push.

    PYTHONPATH=. python bench/bench_link.py [--controllers 20] [--runs 3]

The simulator runs in its own process (`fieldtech simulate`), as a real controller would be
another host: mDNS between two processes on one host is what DESIGN.md's "about 1 s" is about.
Everything stays on 127.0.0.1; zeroconf is pinned to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ["FIELDTECH_LOOPBACK_ONLY"] = "1"  # before importing discovery: refuse anything else

from fieldtech.controller_link import (
    LOOPBACK_INTERFACES,
    ControllerLink,
    LinkError,
    MdnsBrowser,
    NativeLink,
    OpenSprinklerLink,
    probe_serial_port,
)
from fieldtech.domain.models import Program
from fieldtech.simulator import Simulator


def start_simulator(count: int, data_dir: str) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldtech", "simulate", "--count", str(count), "--serial",
         "--opensprinkler", "1", "--data-dir", data_dir],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
        if "Ctrl-C" in line:
            break
    return proc, lines


def _find(pattern: str, lines: list[str], containing: str) -> str:
    for line in lines:
        if containing in line and (match := re.search(pattern, line)):
            return match.group(0)
    raise SystemExit(f"simulator did not print {containing!r}: {lines}")


async def bench_mdns(expected: int) -> tuple[float, float]:
    started = time.perf_counter()
    first = 0.0
    seen: set[str] = set()
    async with MdnsBrowser(LOOPBACK_INTERFACES) as browser:
        while len(seen) < expected:
            event = await browser.next_event(15)
            if event is None:
                raise SystemExit(f"mDNS: only {len(seen)} of {expected} found in time")
            if event.kind == "found" and event.device and event.device.serial:
                seen.add(event.device.serial)
                first = first or time.perf_counter() - started
    return first, time.perf_counter() - started


async def bench_serial(path: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await probe_serial_port(path, timeout=1.0)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def bench_silent_probe() -> float:
    master, slave = os.openpty()
    try:
        started = time.perf_counter()
        with contextlib.suppress(LinkError):
            await probe_serial_port(os.ttyname(slave), timeout=1.0)
        return time.perf_counter() - started
    finally:
        os.close(master)
        os.close(slave)


async def bench_improv_probe(runs: int) -> float:
    async with Simulator(count=0, serial=True, serial_native=False, advertise=False) as sim:
        assert sim.serial_path
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            await probe_serial_port(sim.serial_path, timeout=0.5)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def bench_config(link: ControllerLink, runs: int) -> tuple[float, float, int]:
    """(median read s, median push s, JSON bytes) with a full configuration."""
    async with link:
        base = await link.read_config()
        zones = base.config.zones
        config = replace(base.config, programs=[
            Program(name=f"Program {i + 1}", days=[i % 7], start_times=["05:00", "18:00"],
                    zone_minutes={z.number: 5 + i for z in zones})
            for i in range(10)
        ])
        base = await link.apply_config(config, base)
        reads, pushes = [], []
        for run in range(runs):
            started = time.perf_counter()
            base = await link.read_config()
            reads.append(time.perf_counter() - started)
            for z in base.config.zones:
                z.name = f"Zone {z.number} run {run}"
            for p in base.config.programs:
                p.start_times = [f"0{run % 10}:00"]
            started = time.perf_counter()
            base = await link.apply_config(base.config, base)
            pushes.append(time.perf_counter() - started)
    size = len(json.dumps(base.config.to_dict()))
    return statistics.median(reads), statistics.median(pushes), size


async def main(controllers: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        t0 = time.perf_counter()
        proc, lines = start_simulator(controllers, data_dir)
        print(f"simulator: {controllers} native + 1 serial + 1 OpenSprinkler, ready in "
              f"{time.perf_counter() - t0:.2f} s (separate process)")
        try:
            native = _find(r"http://127\.0\.0\.1:\d+", lines, "fieldtech (mDNS)")
            pty = _find(r"/dev/\S+", lines, "/dev/")
            os_addr = _find(r"127\.0\.0\.1:\d+", lines, "OpenSprinkler ")
            # let the simulator's start-up announcements finish: a browser must ask, not overhear
            await asyncio.sleep(4)
            for run in range(1, runs + 1):
                first, everything = await bench_mdns(controllers)
                print(f"mDNS browser {run} (cold cache), {controllers} controllers: first "
                      f"{first:.2f} s, all {everything:.2f} s")
            print(f"serial probe, native controller on a pty: "
                  f"{await bench_serial(pty, runs * 3) * 1000:.1f} ms per port (median)")
            print(f"serial probe, port where nothing answers (1 s timeout per protocol): "
                  f"{await bench_silent_probe() * 1000:.0f} ms")
            print(f"serial probe, Improv-only device (native times out at 0.5 s first): "
                  f"{await bench_improv_probe(runs) * 1000:.0f} ms per port (median)")
            for label, link in (
                ("native over HTTP", NativeLink.http(native)),
                ("native over serial", NativeLink.serial(pty)),
                ("OpenSprinkler", OpenSprinklerLink(os_addr)),
            ):
                read, push, size = await bench_config(link, runs * 3)
                print(f"config {label} (8 zones, 10 programs, {size / 1024:.1f} kB): read "
                      f"{read * 1000:.1f} ms, push {push * 1000:.1f} ms (median)")
            print(f"(a pty has no baud rate: on a real 115200-baud cable the {size / 1024:.1f} kB "
                  f"configuration alone takes {size * 10 / 115200 * 1000:.0f} ms each way)")
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(main(options.controllers, options.runs))
