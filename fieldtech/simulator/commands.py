"""`fieldtech simulate`: virtual controllers on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="Run virtual controllers on 127.0.0.1 (mDNS, HTTP, serial, OpenSprinkler).",
        description="Run virtual controllers on this machine only (127.0.0.1; mDNS pinned to "
        "loopback) until Ctrl-C. State persists per device in the data dir.",
    )
    p.add_argument("--count", type=int, default=3, help="native controllers on mDNS + HTTP")
    p.add_argument("--serial", action="store_true",
                   help="also one on a pty serial port (native protocol and Improv)")
    p.add_argument("--opensprinkler", type=int, default=0, metavar="K",
                   help="OpenSprinkler-compatible controllers (not on mDNS, like the real ones)")
    p.add_argument("--password", default="opendoor", help="OpenSprinkler password")
    p.add_argument("--zones", type=int, default=8, help="zones per controller")
    # its own dest: the top-level --data-dir is the app's store
    p.add_argument("--data-dir", dest="simulator_data_dir",
                   help="where device state is kept (default: the user data dir)")
    p.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    data_dir = args.simulator_data_dir
    if data_dir is None:
        from fieldtech.offline_store.paths import data_dir as app_data_dir

        data_dir = app_data_dir() / "simulator"  # --data-dir, FIELDTECH_DATA_DIR
    asyncio.run(_serve(args, Path(data_dir)))
    return 0


async def _serve(args: argparse.Namespace, data_dir) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import contextlib
    import signal

    from fieldtech.simulator import Simulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with Simulator(count=args.count, opensprinkler=args.opensprinkler, serial=args.serial,
                         data_dir=data_dir, password=args.password,
                         zone_count=args.zones) as sim:
        for device in sim.devices:
            print(device.describe(), flush=True)
        if sim.of_kind("opensprinkler"):
            print(f"OpenSprinkler password: {args.password}", flush=True)
        print(f"State in {data_dir}. Press Ctrl-C to stop.", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
