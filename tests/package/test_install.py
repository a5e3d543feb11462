"""nasbench installed as users install it: a real, non-editable ``pip install``, used from a
folder that is not the checkout (workers, the console script, the dashboard)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """``pip install --no-deps --target`` of this checkout (a wheel is built and installed,
    not linked); its dependencies are this environment's. Returns the target and the
    environment that puts it first on the path."""
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-build-isolation", "--target", str(target), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    return target, env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_installed_package_is_not_the_checkout(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    target, env = installed
    proc = subprocess.run([sys.executable, "-c", "import nasbench, search_spaces; "
                           "print(nasbench.__file__); print(search_spaces.__file__)"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    for line in proc.stdout.split():
        assert Path(line).is_relative_to(target), line
    assert not (target / "cli.py").exists() and not (target / "dashboard.py").exists()


@pytest.mark.e2e
def test_installed_search_with_two_workers(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    target, env = installed
    proc = subprocess.run([str(target / "bin" / "nasbench"), "search", "--space", "tiny",
                           "--epochs", "1", "--sampler", "random", "--workers", "2", "--budget", "4", "--no-confirm",
                           "--runs-dir", str(tmp_path / "runs"), "--study", "installed"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "4 complete" in proc.stdout
    assert (tmp_path / "runs" / "installed" / "results.csv").is_file()
    listing = subprocess.run([sys.executable, "-m", "nasbench", "results", "installed", "--runs-dir",
                              str(tmp_path / "runs"), "--json"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count('"state":"COMPLETE"') == 4


@pytest.mark.e2e
def test_installed_dashboard_serves_the_page(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    from streamlit.testing.v1 import AppTest

    target, env = installed
    page = target / "nasbench" / "dashboard" / "page.py"
    at = AppTest.from_file(str(page), default_timeout=120)
    at.query_params["source"] = str(tmp_path / "nowhere")
    at.run()
    assert not at.exception and "no runs folder" in at.info[0].value
    port = _free_port()
    server = subprocess.Popen([str(target / "bin" / "nasbench"), "dashboard", str(tmp_path),
                               "--port", str(port), "--address", "127.0.0.1"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.time() + 90, ""
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
                    health = r.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert health == "ok"
        if shutil.which("chromium") is not None:  # what a person opening it sees
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
                    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync"])
                view = browser.new_page()
                view.goto(f"http://127.0.0.1:{port}/", timeout=30_000)
                view.wait_for_selector("text=No run found", timeout=60_000)
                shown = view.locator('[data-testid="stMain"], [data-testid="stAppViewContainer"]').first.inner_text()
                browser.close()
            assert f"No run found in {tmp_path}" in shown  # the RUNS argument reached the page
    finally:
        server.terminate()
        out = server.communicate(timeout=30)[0]
    assert f"Dashboard on http://127.0.0.1:{port}/" in out
