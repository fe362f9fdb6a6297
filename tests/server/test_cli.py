"""`fieldtech cloud …`: bootstrap an account, issue plan codes, and serve on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fieldtech.cli import main


def test_create_account_and_issue_codes_then_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'cloud.sqlite3'}"
    assert (
        main(
            [
                "cloud",
                "create-account",
                "--db",
                db,
                "--email",
                "Boss@Example.com",
                "--name",
                "Green Thumb",
                "--tier",
                "bronze",
                "--password",
                "s3cret-pass",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "cloud",
                "create-account",
                "--db",
                db,
                "--email",
                "boss@example.com",
                "--name",
                "Again",
                "--password",
                "s3cret-pass",
            ]
        )
        == 1
    )  # e-mail taken
    capsys.readouterr()
    assert main(["cloud", "issue-plan-codes", "--db", db, "2"]) == 0
    codes = capsys.readouterr().out.split()
    assert len(codes) == 2 and all(len(c) == 9 and c[4] == "-" for c in codes)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldtech", "cloud", "serve", "--db", db, "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "cloud serve did not come up"
            time.sleep(0.1)
        login = httpx.post(
            f"{base}/v1/auth/login", json={"email": "boss@example.com", "password": "s3cret-pass"}
        )
        token = login.json()["token"]
        account = httpx.get(f"{base}/v1/account", headers={"Authorization": f"Bearer {token}"})
        assert account.json()["tier"] == "bronze" and account.json()["name"] == "Green Thumb"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cloud_help_does_not_import_the_server_stack() -> None:
    code = (
        "import sys; from fieldtech.cli import build_parser; build_parser();"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'uvicorn') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
