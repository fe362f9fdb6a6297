"""`fieldtech simulate` as a user runs it: a real process, stopped with Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_simulate_prints_addresses_and_stops_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldtech", "simulate", "--count", "2", "--serial",
         "--opensprinkler", "1", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines)
    assert "FT1-SIM00001" in text and "http://127.0.0.1:" in text
    assert "/dev/pts/" in text and "OS-024F53000001" in text
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "FT1-SIM00001.json", "FT1-SIM00002.json", "FT1-USB00001.json", "OS-024F53000001.json",
    ]
