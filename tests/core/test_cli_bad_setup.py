"""A wrong data dir, a damaged store, a bad cloud address, a crashed app: one clear line on
stderr and a non-zero exit code, never a traceback, and a damaged file is never touched."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fieldtech.cli import main


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "fieldtech", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


SIGNED_IN = {"FIELDTECH_TOKEN": "x", "FIELDTECH_CLOUD_URL": "http://127.0.0.1:9"}


@pytest.mark.parametrize("command", [["seed"], ["sync"], []])
def test_a_data_dir_that_is_a_file(tmp_path: Path, command: list[str]) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    result = run("--data-dir", str(a_file), *command, env=SIGNED_IN)
    assert_one_clear_line(result, str(a_file), "a file, not a folder", "--data-dir")
    assert a_file.read_text() == "not a folder"
    below = run("--data-dir", str(a_file / "sub"), *command, env=SIGNED_IN)
    assert_one_clear_line(below, "a file, not a folder")


@pytest.mark.parametrize("command", [["seed"], ["sync"]])
def test_a_data_dir_that_cannot_be_created(command: list[str]) -> None:
    result = run("--data-dir", "/proc/fieldtech-cannot-be-here", *command, env=SIGNED_IN)
    assert_one_clear_line(result, "/proc/fieldtech-cannot-be-here", "--data-dir")


@pytest.mark.parametrize("command", [["seed"], ["sync"], []])
def test_a_damaged_store_is_reported_and_left_as_it_is(tmp_path: Path,
                                                       command: list[str]) -> None:
    damaged = tmp_path / "fieldtech.db"
    damaged.write_bytes(bytes(range(256)) * 64)
    digest = hashlib.sha256(damaged.read_bytes()).hexdigest()
    result = run("--data-dir", str(tmp_path), *command, env=SIGNED_IN)
    assert_one_clear_line(result, str(damaged), "not a fieldtech store", "left as it is")
    assert hashlib.sha256(damaged.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fieldtech.db"]  # no -wal, no -shm


@pytest.mark.parametrize("url", ["http://[::1", "notaurl", "ftp://cloud.example.com",
                                 "https://host:99999"])
def test_sync_with_a_cloud_url_that_is_not_one(capsys, monkeypatch, url: str) -> None:
    monkeypatch.setenv("FIELDTECH_TOKEN", "x")
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", url)
    assert main(["sync"]) == 1  # a setting to fix, like a refused sign-in
    err = capsys.readouterr().err
    assert f"FIELDTECH_CLOUD_URL is not an http(s) address: {url!r}" in err


def test_sync_gives_up_soon_when_the_connection_is_refused(capsys, monkeypatch) -> None:
    attempts: list[str] = []
    request = httpx.Client.request

    def counted(self, method, url, **kwargs):
        attempts.append(str(url))
        return request(self, method, url, **kwargs)

    monkeypatch.setattr(httpx.Client, "request", counted)
    monkeypatch.setattr("fieldtech.cloud.api.random.uniform", lambda lo, hi: 0.0)
    monkeypatch.setenv("FIELDTECH_TOKEN", "x")
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", "http://127.0.0.1:9")  # nothing listens there
    start = time.monotonic()
    assert main(["sync"]) == 2
    assert time.monotonic() - start < 5
    assert len(attempts) == 2  # one quick second try, not six spread over ~8 s
    assert "connection refused" in capsys.readouterr().err


def test_the_app_exits_non_zero_when_it_crashes(monkeypatch, tmp_path: Path) -> None:
    from textual.app import App

    from fieldtech.app import FieldtechApp

    def crash(self) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(FieldtechApp, "on_mount", crash)
    monkeypatch.setattr(FieldtechApp, "run", lambda self: App.run(self, headless=True))
    assert main(["--data-dir", str(tmp_path)]) == 1
