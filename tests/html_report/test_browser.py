"""The report in a real headless browser (Debian's chromium): it renders its tables and every image decodes."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from apeopt.commands.report import run_report

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1280,2000"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser's path; requested before the (slower) report fixture so that a skip costs nothing."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium not found on PATH (install Debian's package: apt-get install -y chromium; .ci/run does)")


def browse(browser: str, page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [browser, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.mark.timeout(600)
def test_report_renders_in_headless_chromium(chromium, report_fixture, tmp_path):
    browser = chromium
    page = run_report([report_fixture.batch, report_fixture.run, report_fixture.compare], tmp_path / "report.html")

    dom = browse(browser, page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'data-images-loaded="true"' in html, html[-1500:]  # set by the page once every <img> decoded (naturalWidth > 0)
    assert 'data-images="5/5"' in html  # as test_report counts: 2 comparisons, score by round, 2 cost fronts
    for cls in ("batch", "compare", "leaderboard", "cost"):
        assert f'<table class="{cls}">' in html, cls
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html  # escaped text stays text in the live DOM

    shot = tmp_path / "report.png"
    result = browse(browser, page, tmp_path, f"--screenshot={shot}")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    assert png_size(shot) == (1280, 2000)
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))[..., :3]
    dark = (pixels.mean(axis=2) < 0.5).mean()
    assert 0.005 < dark < 0.5, dark  # text and plots on a white page, not a blank or black screen
