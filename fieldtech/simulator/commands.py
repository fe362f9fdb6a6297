"""`fieldtech simulate`: virtual controllers on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import sys


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
    p.add_argument("--no-mdns", dest="mdns", action="store_false",
                   help="do not advertise on mDNS (cloud-only runs; several simulators at once)")
    # its own dest: the top-level --data-dir is the app's store
    p.add_argument("--data-dir", dest="simulator_data_dir",
                   help="where device state is kept (default: the user data dir)")
    cloud = p.add_argument_group(
        "cloud", "Pair the native controllers with a cloud on this machine; they heartbeat, take "
        "commands and report faults (docs/protocol.md, \"Talking to the cloud\").")
    cloud.add_argument("--cloud", metavar="URL", help="the cloud, e.g. http://127.0.0.1:8765")
    cloud.add_argument("--pair-codes", metavar="CODE,…",
                       help="pairing codes, one per native controller in serial order; without "
                       "them a staff token (FIELDTECH_TOKEN, or `fieldtech login`) picks records "
                       "of the account: the one with the device's serial, else one not linked")
    cloud.add_argument("--customer", metavar="ID", help="only records of this customer")
    cloud.add_argument("--heartbeat", type=float, metavar="SECONDS",
                       help="heartbeat this often instead of as the cloud asks (demos)")
    cloud.add_argument("--scenario", metavar="FILE",
                       help="a TOML list of timed steps: faults, offline, reboot, recover")
    p.set_defaults(handler=run_simulate)


SIMULATED_MAX = 1000  # controllers one `simulate` serves (each is a port and an mDNS name)


def run_simulate(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from fieldtech.domain.limits import ZONES_MAX, ZONES_MIN

    # Numbers that size what is built are checked before anything is built.
    for flag, value in (("--count", args.count), ("--opensprinkler", args.opensprinkler)):
        if not 0 <= value <= SIMULATED_MAX:
            print(f"fieldtech simulate: {flag} is 0 to {SIMULATED_MAX}.", file=sys.stderr)
            return 2
    if not ZONES_MIN <= args.zones <= ZONES_MAX:
        print(f"fieldtech simulate: --zones is {ZONES_MIN} to {ZONES_MAX}.", file=sys.stderr)
        return 2

    data_dir = args.simulator_data_dir
    if data_dir is None:
        from fieldtech.offline_store.paths import data_dir as app_data_dir

        data_dir = app_data_dir() / "simulator"  # --data-dir, FIELDTECH_DATA_DIR
    scenario = None
    if args.scenario:
        from fieldtech.simulator.scenario import Scenario, ScenarioError

        try:
            scenario = Scenario.load(Path(args.scenario))
        except ScenarioError as exc:
            print(f"fieldtech simulate: {exc}", file=sys.stderr)
            return 2
    return asyncio.run(_serve(args, Path(data_dir), scenario))


async def _serve(args: argparse.Namespace, data_dir, scenario) -> int:  # type: ignore[no-untyped-def]
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
                         zone_count=args.zones, heartbeat_s=args.heartbeat,
                         advertise=args.mdns) as sim:
        for device in sim.devices:
            print(device.describe(), flush=True)
        if sim.of_kind("opensprinkler"):
            print(f"OpenSprinkler password: {args.password}", flush=True)
        if args.cloud and not await _pair(args, sim):
            return 1
        running = None
        if scenario is not None:
            running = _start_scenario(scenario, sim)
            if running is None:
                return 2
        print(f"State in {data_dir}. Press Ctrl-C to stop.", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
        if running is not None:
            running.cancel()
    return 0


async def _pair(args: argparse.Namespace, sim) -> bool:  # type: ignore[no-untyped-def]
    """Pair the native controllers as the options say, print the outcome → any paired."""
    import asyncio

    from fieldtech.domain.errors import NotSignedIn
    from fieldtech.simulator.cloud_pairing import PairingError, pair_with_account, pair_with_codes

    url = args.cloud.rstrip("/")
    try:
        if args.pair_codes:
            codes = [c.strip() for c in args.pair_codes.split(",") if c.strip()]
            done = await pair_with_codes(sim, url, codes)
        else:
            token = await asyncio.to_thread(_staff_token, url)  # a keyring may take seconds
            done = await pair_with_account(sim, url, token, customer_id=args.customer)
    except (PairingError, NotSignedIn) as exc:
        print(f"fieldtech simulate: {exc}", file=sys.stderr)
        return False
    for pairing in done:
        print(pairing.describe(), flush=True)
    if all(p.problem for p in done):
        print("fieldtech simulate: no controller could be paired (see above).", file=sys.stderr)
        return False
    return True


def _staff_token(url: str) -> str:
    """A staff user's token for `url`: FIELDTECH_TOKEN, else the one `fieldtech login` kept."""
    from fieldtech.cloud.session import normalize_url, signed_in
    from fieldtech.domain.errors import NotSignedIn

    who = signed_in(url=url)
    if who.url != normalize_url(url):
        raise NotSignedIn(f"Signed in to {who.url}, not {url}: log in there, or set "
                          "FIELDTECH_TOKEN, or give --pair-codes.")
    return who.token


def _start_scenario(scenario, sim):  # type: ignore[no-untyped-def]
    """The scenario running as a task, printing each step as it happens; None if it names a
    controller this simulator does not run (said on stderr)."""
    import asyncio

    from fieldtech.simulator.scenario import ScenarioError, run_scenario

    try:
        scenario.check(sim)
    except ScenarioError as exc:
        print(f"fieldtech simulate: {exc}", file=sys.stderr)
        return None

    def report(at: float, line: str) -> None:
        print(f"[{at:6.1f} s] {line}", flush=True)

    return asyncio.get_running_loop().create_task(run_scenario(scenario, sim, report))
