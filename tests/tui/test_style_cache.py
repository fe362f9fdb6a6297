"""Parsed style sheets kept between starts (fieldtech/style_cache.py): served only for the same
CSS under the same parser and theme, and a file that is not right is never used."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest
import textual.css.stylesheet
from textual.app import App
from textual.widgets import Static

from fieldtech.style_cache import (
    FILE_NAME,
    PARSER_FILES,
    CachedStylesheet,
    StyleCache,
    parser_fingerprint,
)

APP_TCSS = Path(__file__).resolve().parents[2] / "fieldtech" / "app.tcss"
VARIABLES = App().get_css_variables()


def parsed(folder: Path, sources: list[tuple[str, tuple[str, str]]],
           variables: dict[str, str] = VARIABLES, fingerprint: tuple | None = None,
           ) -> tuple[str, StyleCache]:
    """The rules `sources` parse to (as CSS text), through a cache kept in `folder`."""
    cache = StyleCache(folder, fingerprint)
    sheet = CachedStylesheet(cache, variables=variables)
    for css, read_from in sources:
        sheet.add_source(css, read_from=read_from)
    sheet.parse()
    cache.save()
    return sheet.css, cache


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("parsed, where the kept rules should have been used")
    monkeypatch.setattr(textual.css.stylesheet, "parse", refuse)


SOURCES = [(APP_TCSS.read_text(), (str(APP_TCSS), "")),
           (Static.DEFAULT_CSS, ("static.py", "Static.DEFAULT_CSS"))]


def test_kept_rules_are_served_and_are_what_a_parse_makes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh, first = parsed(tmp_path, SOURCES)
    assert first.used == 0 and (tmp_path / FILE_NAME).exists()
    no_parsing(monkeypatch)
    again, second = parsed(tmp_path, SOURCES)
    assert second.used == len(SOURCES)
    assert again == fresh and "background" in again


def test_a_changed_style_sheet_is_parsed_afresh(tmp_path: Path) -> None:
    where = ("app.tcss", "")
    red, _ = parsed(tmp_path, [("Screen { background: red; }", where)])
    blue, cache = parsed(tmp_path, [("Screen { background: blue; }", where)])
    assert cache.used == 0
    assert "background: #0000FF" in blue and "#FF0000" in red


def test_another_theme_parses_afresh(tmp_path: Path) -> None:
    css = [("Screen { background: $primary; }", ("app.tcss", ""))]
    parsed(tmp_path, css)
    other = {**VARIABLES, "primary": "#123456"}
    shown, cache = parsed(tmp_path, css, variables=other)
    assert cache.used == 0 and "background: #123456" in shown


def test_another_textual_rich_or_python_ignores_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed(tmp_path, SOURCES)
    other = (*parser_fingerprint()[:-1], ("textual/css/parse.py", 1, 2))  # one file changed
    _, cache = parsed(tmp_path, SOURCES, fingerprint=other)
    assert cache.used == 0
    # And the fingerprint does follow the parser's files: an upgrade rewrites them.
    assert any(p.name == "parse.py" and p.parent.name == "css" for p in PARSER_FILES)
    copy = tmp_path / "parse.py"
    shutil.copy(next(p for p in PARSER_FILES if p.name == "parse.py"), copy)
    before = parser_fingerprint((copy,))
    os.utime(copy, ns=(1, 1))
    assert parser_fingerprint((copy,)) != before
    touched = parser_fingerprint((copy,))
    monkeypatch.setattr("sys.version", "3.99.0 (another Python)")
    assert parser_fingerprint((copy,)) != touched


@pytest.mark.parametrize("content", [b"", b"not a pickle at all", pickle.dumps([1, 2, 3]),
                                     pickle.dumps({"fingerprint": None, "rules": {}})[:-5]])
def test_a_corrupt_file_is_ignored_and_replaced(tmp_path: Path, content: bytes) -> None:
    fresh, _ = parsed(tmp_path / "clean", SOURCES)
    (tmp_path / FILE_NAME).write_bytes(content)
    shown, cache = parsed(tmp_path, SOURCES)
    assert cache.used == 0 and shown == fresh
    _, again = parsed(tmp_path, SOURCES)  # the file was written anew, whole
    assert again.used == len(SOURCES)


def test_a_file_others_may_write_is_never_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed(tmp_path, SOURCES)
    (tmp_path / FILE_NAME).chmod(0o666)
    _, cache = parsed(tmp_path, SOURCES)
    assert cache.used == 0


async def test_the_app_keeps_its_styles_after_the_first_paint(tmp_path: Path) -> None:
    """The app saves what its first paint parsed; the next start's paint uses it and shows
    the same screen."""
    from fieldtech.app import FieldtechApp
    from fieldtech.services.settings import Settings
    from tests.tui.conftest import SIZE, make_app, settle

    screens = []
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        seeded = make_app(tmp_path / run)  # the same seed each time
        cache = StyleCache(tmp_path / "cache")
        app = FieldtechApp(seeded.store, Settings.load(tmp_path / run / "config"),
                           tmp_path / run / "data", style_cache=cache)
        assert isinstance(app.stylesheet, CachedStylesheet)
        assert (run == "first") == (not (tmp_path / "cache" / FILE_NAME).exists())
        try:
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                screens.append(app.export_screenshot())
        finally:
            app.store.close()
        if run == "first":  # nothing kept yet: parsed, then kept
            assert (tmp_path / "cache" / FILE_NAME).exists()
            kept = StyleCache(tmp_path / "cache")._read()
            assert any(key[1] == (str(APP_TCSS), "") for key in kept)
        else:
            assert cache.used >= 5  # app.tcss, Textual's own and the fleet's widgets
    assert screens[0] == screens[1]
