"""CSV import and export on a real store: every bad row with its line and field, nothing
written unless all are good (or --skip-bad), the quota first; BOM, CRLF, quoted commas, 50 MB."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fieldtech.domain.models import Account, new_id
from fieldtech.domain.plans import Tier, TierLimits
from fieldtech.offline_store import Store
from fieldtech.services.csv_io import (
    COLUMNS,
    CsvUnreadable,
    export_csv,
    plan_import,
    write_import,
)

HEADER = ",".join(COLUMNS)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store.db")
    s.set_account(Account(id=new_id(), name="Greenline", tier=Tier.PLATINUM))
    yield s
    s.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_bom_crlf_and_a_quoted_comma_read_as_meant(store: Store, tmp_path: Path) -> None:
    text = (HEADER + "\r\n"
            + '"Ito, Ben",ben@example.com,555-201-3344,"12 Elm St, Tucson, AZ",priority,hoa,'
              'Front yard,FT-8,8,FT1-0A1B2C3D,America/Phoenix,,spring\r\n'
            + '"Ito, Ben",ben@example.com,,,,,Back yard,FT-4,4,,America/Phoenix,,\r\n')
    path = write(tmp_path / "c.csv", "\ufeff" + text)
    plan = plan_import(store, path)
    assert plan.ok, plan.report()
    assert [c.name for c in plan.customers] == ["Ito, Ben"]
    assert plan.customers[0].address == "12 Elm St, Tucson, AZ"
    assert [c.name for c in plan.controllers] == ["Front yard", "Back yard"]
    assert write_import(store, plan) == (1, 2)
    assert store.pending_count() == 3
    assert {r.name for r in store.fleet_rows()} == {"Front yard", "Back yard"}


def test_every_bad_row_is_reported_with_its_line_and_field_and_nothing_written(
        store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", "\n".join([
        HEADER,
        "Ana Chen,ana@example.com,,,,,Front yard,FT-8,8,,UTC,,",   # 2: fine
        "Bo Park,not-an-email,,,,,Lawn,FT-8,8,,UTC,,",              # 3: email
        "Cy Doe,,,,gold,,Lawn,FT-8,8,,UTC,,",                       # 4: membership
        "Di Roe,,,,,,Lawn,FT-8,eight,,UTC,,",                       # 5: zones
        "Ed Moe,,,,,,Lawn,FT-8,8,,Mars/Base,,",                     # 6: timezone
        ',,,,,,"Lawn\nwith a line break",FT-8,8,,UTC,,',           # 7–8: no customer
        "Fa Lu,,,,,,Lawn,FT-8,8,FT1-0A1B2C3D,UTC,,",                # 9
        "Gi Ra,,,,,,Lawn 2,FT-8,8,FT1-0A1B2C3D,UTC,,",              # 10: serial twice
    ]) + "\n")
    plan = plan_import(store, path)
    found = {(e.line, e.field) for e in plan.errors}
    assert found == {(3, "email"), (4, "membership"), (5, "zones"), (6, "timezone"),
                     (7, "customer"), (10, "serial")}, plan.report()
    assert "line 3, email" in plan.report()
    with pytest.raises(Exception, match="nothing was written"):
        write_import(store, plan)
    assert store.pending_count() == 0 and store.counts() == (0, 0)
    # --skip-bad: the good rows go in, the bad ones stay out
    assert write_import(store, plan, skip_bad=True) == (2, 2)
    assert sorted(r.customer_name for r in store.fleet_rows()) == ["Ana Chen", "Fa Lu"]


def test_over_the_quota_is_known_before_any_row_is_checked_or_written(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "small.db")
    store.set_account(Account(id=new_id(), name="Small", tier=Tier.STARTER))  # 25
    rows = [f"K{i},,,,,,Yard {i},FT-8,8,,Not/AZone,," for i in range(30)]  # bad too
    path = write(tmp_path / "many.csv", "\n".join([HEADER, *rows]) + "\n")
    plan = plan_import(store, path)
    assert plan.quota and "30 controllers would make 30 of 25" in plan.quota
    assert plan.errors == []  # not even looked at
    with pytest.raises(Exception, match="Quota"):
        write_import(store, plan)
    assert store.pending_count() == 0


def test_a_50_mb_file_gets_a_clear_answer(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    line = "Customer {0},,,\"{1}\",,,Yard,FT-8,8,,UTC,,\n"
    filler = "x" * 240
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER + "\n")
        n = 0
        while f.tell() < 50 * 1024 * 1024:
            f.write(line.format(n, filler))
            n += 1
    t = time.perf_counter()
    plan = plan_import(store, path)  # ~180,000 controllers: far over Platinum's 5,000
    assert time.perf_counter() - t < 20
    assert plan.quota and f"{n:,} controllers would make" in plan.quota
    assert not plan.controllers and store.pending_count() == 0
    with path.open("a", encoding="utf-8") as f:  # past any account's size: refused as such
        for i in range(30_000):
            f.write(line.format(n + i, ""))
    with pytest.raises(CsvUnreadable, match="more than 200,000 rows"):
        plan_import(store, path)


def test_what_is_not_csv_says_so(store: Store, tmp_path: Path) -> None:
    for text, words in [("", "empty"), ("name,colour\nA,red\n", "colour"),
                        (HEADER + '\nA,,,"' + "x" * 20_000 + '",,,,,,,,,\n', "Line 2")]:
        with pytest.raises(CsvUnreadable, match=words):
            plan_import(store, write(tmp_path / "x.csv", text))
    with pytest.raises(CsvUnreadable, match="UTF-8"):
        plan_import(store, write(tmp_path / "latin.csv", HEADER + "\nJosé,,,,,,,,,,,,\n",
                                 "latin-1"))
    with pytest.raises(CsvUnreadable, match="Cannot read"):
        plan_import(store, tmp_path / "missing.csv")


def test_export_then_import_into_another_store_is_the_same_fleet(
        tmp_path: Path) -> None:
    from fieldtech.offline_store.seed import seed_store

    source = Store(tmp_path / "a.db")
    seed_store(source, 30, 80)
    path = tmp_path / "fleet.csv"
    export_csv(source, path)
    target = Store(tmp_path / "b.db")
    target.set_account(Account(id=new_id(), name="B", tier=Tier.PLATINUM))
    plan = plan_import(target, path)
    assert plan.ok, plan.report()
    write_import(target, plan)

    def shape(s: Store) -> list[tuple]:
        return sorted((r.customer_name, r.name, r.serial or "", r.zone_count, r.model)
                      for r in s.fleet_rows())
    assert shape(target) == shape(source)


def test_dry_run_of_2000_customers_and_10000_controllers_is_quick(tmp_path: Path) -> None:
    store = Store(tmp_path / "big.db")
    store.set_account(Account(id=new_id(), name="Big", tier=Tier.PLATINUM,
                              custom_limits=TierLimits(20_000, 200, 500)))
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER + "\n")
        for i in range(10_000):
            k = i % 2000
            f.write(f"Customer {k},c{k}@example.com,555-000-{k:04d},\"{k} Elm St, Tucson, AZ\","
                    f"standard,,Yard {i},FT-8,8,,America/Phoenix,,\n")
    t = time.perf_counter()
    plan = plan_import(store, path)
    took = time.perf_counter() - t
    assert plan.ok and len(plan.customers) == 2000 and len(plan.controllers) == 10_000
    assert took < 6  # the budget is 3 s on a quiet machine (bench_campaigns prints it)


def test_the_cli_dry_run_import_and_export(tmp_path: Path) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fieldtech", "--data-dir",
                               str(tmp_path / "d"), *args], capture_output=True, text=True,
                              timeout=60)

    path = write(tmp_path / "c.csv", "customer,email,controller,zones,timezone\r\n"
                 "\"Ito, Ben\",ben@x.io,Front,8,UTC\r\nBo,bad-email,Lawn,8,UTC\r\n")
    done = run("import", str(path))
    assert done.returncode == 1 and "line 3, email" in done.stdout
    assert "Nothing was written" in done.stderr
    assert run("import", str(path), "--dry-run").returncode == 1
    done = run("import", str(path), "--skip-bad")
    assert "Imported 1 customers and 1 controllers" in done.stdout
    done = run("export", "--csv", str(tmp_path / "out.csv"))
    assert done.returncode == 0
    assert '"Ito, Ben",ben@x.io' in (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert "Cannot read" in run("import", str(tmp_path / "missing.csv")).stderr
