"""Regenerate the dashboard screenshot of the README and the docs (``docs/img/dashboard.png``)
from a real run, in headless Chromium:

    python cli.py search --budget 50                       # the default run, if not there yet
    python docs/screenshot.py [RUN] [--out docs/img/dashboard.png]

RUN defaults to ``runs/mixed-digits-tpe-seed0`` (the default search's). Needs Playwright (the
test extra) and Chromium (``bash setup.sh --test`` installs Debian's).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(run: Path, out: Path, width: int = 1400, height: int = 1100) -> None:
    """Serve the dashboard on ``run``'s runs folder and save the top of its page to ``out``."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"),
                               "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--server.headless", "true"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": width, "height": height})
            deadline = time.time() + 60
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/?source={run.parent.resolve()}&run={run.name}",
                              timeout=10_000)
                    break
                except Exception:
                    if time.time() > deadline:
                        raise
                    time.sleep(1)
            page.wait_for_selector(f'h1:has-text("{run.name}")', timeout=60_000)
            page.locator(".js-plotly-plot .scatterlayer .trace .points path").first.wait_for(timeout=60_000)
            page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=120_000)
            time.sleep(2)  # the chart's transitions
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": width, "height": height})
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", type=Path, default=ROOT / "runs" / "mixed-digits-tpe-seed0")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "dashboard.png")
    args = parser.parse_args()
    if not (args.run / "study.db").exists():
        print(f"error: {args.run} holds no study; run `python cli.py search --budget 50` first",
              file=sys.stderr)
        return 2
    screenshot(args.run, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
