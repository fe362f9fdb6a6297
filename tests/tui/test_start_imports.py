"""What the app loads before its first paint: only what that paint needs.

Every module imported before the first frame is paid for by every start (issue 17: start ≤ 1.5×
a bare Textual app). The forms, the edit and campaign services, the controller screen, triage
and the cloud's HTTP stack load later, on first use or in the read after that frame. The app
runs on a real pty (Textual draws nothing headless) and stops where the whole fleet's read
would begin, right after its first paint.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_store

ROOT = Path(__file__).resolve().parents[2]

# Loaded on first use, after the first paint (each was on its path once).
NOT_BEFORE_THE_FIRST_PAINT = (
    "fieldtech.services.edits", "fieldtech.services.campaigns",
    "fieldtech.offline_store.campaigns", "fieldtech.domain.config_diff",
    "fieldtech.services.config_files", "fieldtech.forms", "fieldtech.forms.fields",
    "fieldtech.forms.records", "fieldtech.services.triage", "fieldtech.screens.forms",
    "fieldtech.screens.triage", "fieldtech.screens.controller", "fieldtech.cloud.api",
    "fieldtech.cloud.sync", "httpx", "zeroconf", "argparse", "tomli_w", "secrets",
    "fieldtech.screens.switcher", "fieldtech.domain.documents",
    "fieldtech.offline_store.triage_rows", "zoneinfo", "fieldtech.cloud.session",
    "tomllib",  # (the child has no settings file: with one, it is read before the paint)
)

# The app, stopped where its whole fleet's read would start: just after the first paint.
CHILD = """
import sys
from pathlib import Path
from fieldtech.app import FieldtechApp
from fieldtech.cli import main

def first_paint_done(app, keep=None):
    Path(sys.argv[1]).write_text("\\n".join(sorted(sys.modules)))
    app.exit()

FieldtechApp._read_fleet = first_paint_done
sys.exit(main(["--data-dir", sys.argv[2]]))
"""


def _modules_at_first_paint(data_dir: Path, out: Path) -> set[str]:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items()  # a developer's token or data dir: not here
           if not k.startswith(("TEXTUAL", "FIELDTECH_"))}
    env.update(TERM="xterm-256color", FIELDTECH_CONFIG_DIR=str(data_dir / "config"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    env.pop("SSH_CONNECTION", None)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(out), str(data_dir)],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                            start_new_session=True)
    os.close(slave)
    written = b""
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    written += os.read(master, 65536)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    assert out.exists(), f"the app never reached its first paint:\n{written[-2000:]!r}"
    return set(out.read_text().split())


def test_the_first_paint_loads_only_what_it_shows(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with Store(data_dir / "fieldtech.db") as store:
        seed_store(store, 4, 12)
    loaded = _modules_at_first_paint(data_dir, tmp_path / "modules.txt")
    # It did paint the fleet: the screen and the terminal layer are there.
    assert {"fieldtech.screens.fleet", "fieldtech.terminal.output", "textual"} <= loaded
    early = sorted(m for m in NOT_BEFORE_THE_FIRST_PAINT if m in loaded)
    assert not early, f"loaded before the first paint: {early}"


async def test_the_filter_box_comes_with_the_first_slash_or_a_saved_views_filter(
        tmp_path: Path) -> None:
    """The `/` box is an Input, whose styles took 10-16 ms to parse before the first paint:
    it is mounted when first needed, in its old place, and filters as before."""
    from tests.tui.conftest import SIZE, make_app, settle

    app = make_app(tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            assert not screen.query("#filter")  # (the switcher's own box is built ahead)
            offline = {r.controller_id for r in app.store.fleet_rows()
                       if r.controller_id and r.state.value == "offline"}
            await pilot.press("slash", *"status:offline")
            await settle(pilot)
            box = screen.query_one("#filter")
            assert box.has_class("visible") and app.focused is box
            assert [w.id for w in screen.children][:2] == ["topbar", "filter"]
            assert {r.controller_id for r in screen.fleet_list.rows} == offline
        (tmp_path / "again").mkdir()
        app2 = make_app(tmp_path / "again")  # the same seed: the same offline controllers
        async with app2.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app2.screen.set_view("status:offline", "name")  # a saved view, chosen (V)
            await settle(pilot)
            box = app2.screen.query_one("#filter")
            assert box.has_class("visible") and box.value == "status:offline"
            assert {r.controller_id for r in app2.screen.fleet_list.rows} == offline
            assert app2.screen.sort == "name"
        app2.store.close()
    finally:
        app.store.close()
