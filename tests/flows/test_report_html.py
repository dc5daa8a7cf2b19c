"""The HTML report of a run renders in headless Chromium with every section and no console error; the
screenshot is kept under the run directory. ``uce report`` and ``uce runs`` on the same run folder.

Chromium comes from Debian's packages (``apt-get install -y chromium``); without it the browser test skips.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fixtures import build_run

from flows.commands import report as report_command
from tasks.report.html_page import SECTION_IDS
from tasks.run.run_dir import RunDir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_TIMEOUT_S = 120
# Console messages and uncaught exceptions as Chromium logs them with --enable-logging=stderr.
CONSOLE_LINE = re.compile(r":CONSOLE[:(\]]|Uncaught")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("report-html-data")


@pytest.fixture(scope="module")
def run(data_dir) -> RunDir:
    return build_run(data_dir, "html-run")


def _uce(data_dir: Path, *args: str) -> int:
    """``uce --data-dir DATA_DIR ARGS`` through the report command module's own parsers."""
    parser = argparse.ArgumentParser(prog="uce")
    parser.add_argument("--data-dir")
    report_command.register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["--data-dir", str(data_dir), *args])
    return parsed.func(parsed)


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args],
        capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S,
    )


def _console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE_LINE.search(line)]


def test_uce_report_rebuilds_both_reports(run, data_dir, capsys) -> None:
    run.report.unlink(missing_ok=True)
    assert _uce(data_dir, "report", "html-run") == 0
    assert run.report.is_file() and (run.root / "report.html").is_file()
    assert "report.html" in capsys.readouterr().out


def test_uce_report_of_an_unknown_run_is_a_one_line_error(data_dir, capsys) -> None:
    assert _uce(data_dir, "report", "no-such-run") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no run 'no-such-run'") and err.count("\n") == 1


def test_uce_runs_lists_the_run_with_its_counts(run, data_dir, capsys) -> None:
    assert _uce(data_dir, "report", "html-run") == 0
    capsys.readouterr()
    assert _uce(data_dir, "runs") == 0
    out = capsys.readouterr().out
    assert "html-run" in out and "completed" in out and "BTC" in out and "html" in out


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_console_error_detection_works(tmp_path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("boom"); missing();</script></body></html>')
    done = _chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    assert len(_console_errors(done.stderr)) == 2, done.stderr[-2000:]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(run, data_dir, tmp_path) -> None:
    assert _uce(data_dir, "report", "html-run") == 0
    page = (run.root / "report.html").resolve().as_uri()
    dom = _chromium(tmp_path / "profile", "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = re.findall(r'<section id="([^"]+)"', dom.stdout)
    assert rendered == list(SECTION_IDS)
    assert dom.stdout.count("<svg") >= 10  # the charts made it into the rendered DOM
    screenshot = run.root / "report.png"
    shot = _chromium(tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,5200",
                     "--hide-scrollbars", page)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.is_file() and screenshot.stat().st_size > 50_000
    assert _console_errors(dom.stderr + shot.stderr) == []
