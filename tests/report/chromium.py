"""Headless Chromium for the HTML report: measure how its tables lay out, and take the README screenshot.

Nothing beyond the `chromium` binary: a copy of the page gets a small script that measures every word in
every table cell after layout and writes the result into the page, and `--dump-dom` prints the page.

Regenerate the README screenshot from the current code (the demo week's report):

    python -m tests.report.chromium docs/report-screenshot.png
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WIDTH = 1280  # a laptop screen: the width the report is read at
BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio")

# A word is a run of non-space characters. It is broken when its glyphs sit on more than one line.
PROBE = """
window.addEventListener('load', () => {
  const broken = [];
  for (const cell of document.querySelectorAll('td, th')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  const wide = [...document.querySelectorAll('table')].filter(
    t => t.getBoundingClientRect().right > document.documentElement.clientWidth + 1);
  const out = document.createElement('pre');
  out.id = 'layout-probe';
  out.textContent = JSON.stringify({
    viewport: document.documentElement.clientWidth,
    cells: document.querySelectorAll('td').length,
    broken: broken,
    wider_than_page: wide.length,
  });
  document.body.appendChild(out);
});
"""


def find_chromium() -> str | None:
    return next((path for name in BINARIES if (path := shutil.which(name))), None)


def probe_layout(html_path: Path, *, width: int = WIDTH) -> dict[str, Any]:
    """Lay the page out at `width` px and return the words broken across lines inside table cells."""
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("headless Chromium is not installed")
    page = html_path.read_text(encoding="utf-8").replace("</body>", f"<script>{PROBE}</script></body>", 1)
    with tempfile.TemporaryDirectory() as tmp:
        probed = Path(tmp) / "probed.html"
        probed.write_text(page, encoding="utf-8")
        result = subprocess.run(
            [binary, *FLAGS, f"--window-size={width},900", "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', result.stdout, re.S)
    if found is None:
        raise RuntimeError(f"Chromium printed no layout result (exit {result.returncode}): {result.stderr[-500:]}")
    return json.loads(html.unescape(found.group(1)))


def screenshot(html_path: Path, png: Path, *, width: int = WIDTH, height: int = 1800) -> None:
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("headless Chromium is not installed (apt-get install chromium)")
    subprocess.run(
        [binary, *FLAGS, f"--window-size={width},{height}", f"--screenshot={png.resolve()}", html_path.as_uri()],
        capture_output=True,
        timeout=60,
        check=True,
    )


def demo_report(out_dir: Path) -> Path:
    """The demo week's HTML report, as `run-monitor report --demo` writes it."""
    from click.testing import CliRunner

    from monitors.app.cli.main import cli

    result = CliRunner().invoke(cli, ["report", "--demo", "--output-dir", str(out_dir)])
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return out_dir / "report-2026-W47.html"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.report.chromium OUTPUT.png", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        page = demo_report(Path(tmp))
        layout = probe_layout(page)
        screenshot(page, Path(argv[0]))
    print(f"wrote {argv[0]} ({WIDTH} px wide); words broken in table cells: {layout['broken'] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
