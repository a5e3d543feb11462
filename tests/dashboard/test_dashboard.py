"""The dashboard: plot data as pure functions, Streamlit's AppTest on runs made by real small
searches, and one end-to-end test in headless Chromium."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from nasbench.dashboard import plots
from nasbench.workflows.confirm import confirm_study
from nasbench.study.results import best_within, hypervolume, results_frame
from nasbench.workflows.search import run_search
from nasbench.workflows.search_study import open_study
from nasbench.workflows.settings import SearchConfig

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard.py")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real small searches (one with a params constraint) and one run with no trial."""
    root = tmp_path_factory.mktemp("runs")
    base = dict(space="tiny", epochs=1, threads=1, latency_time_s=0.05, runs_dir=str(root))
    run_search(SearchConfig(**base, budget=8, sampler="random", seed=0, study="alpha",
                            max_params=12_000))
    run_search(SearchConfig(**base, budget=5, sampler="random", seed=1, study="beta"))
    beta = open_study(SearchConfig(**base, budget=5, sampler="random", seed=1, study="beta"))
    confirm_study(beta, results_frame(beta), rounds=5)  # the front confirmed, with its intervals
    open_study(SearchConfig(**base, budget=1, study="empty"))
    return root


def _frame(runs: Path, name: str) -> pd.DataFrame:
    return results_frame(open_study(SearchConfig(space="tiny", epochs=1, runs_dir=str(runs), study=name,
                                                 max_params=12_000 if name == "alpha" else None,
                                                 sampler="random", seed=0 if name == "alpha" else 1)))


def _app(source: Path | str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["source"] = str(source)
    return at


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe on the page that has ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _figure(element) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(element.proto.spec)


# ------------------------------------------------------------------------------ pure functions

def test_block_mix_and_kernel() -> None:
    arch = "res8_in1_cls10:stem_c16_k3_s1_arelu:ir_r2_k5_s1_e3_c16_arelu:conv_r1_k3_s2_c32_arelu:head"
    assert plots.block_mix(arch) == "conv+ir" and plots.main_kernel(arch) == 5
    assert plots.block_mix(None) == "unknown" and plots.main_kernel(None) == 0


@given(st.lists(st.tuples(st.integers(1, 8), st.integers(1, 8)), min_size=1, max_size=12))
def test_hypervolume_equals_counted_cells(points: list) -> None:
    acc = np.array([p[0] for p in points], float)
    lat = np.array([p[1] for p in points], float)
    ref = 10.0
    cells = sum(any(a >= y + 1 and l <= x for a, l in zip(acc, lat))
                for x in range(10) for y in range(8))  # unit cells [x, x+1] × [y, y+1]
    assert hypervolume(acc, lat, ref) == pytest.approx(cells)


@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6), st.booleans()), min_size=1,
                max_size=25))
def test_hypervolume_history_equals_the_front_of_each_prefix(points: list) -> None:
    """The one-pass history (front updated as trials arrive) against the definition: the
    hypervolume of every prefix of trials, recomputed from scratch."""
    frame = pd.DataFrame({"number": range(len(points)), "state": "COMPLETE",
                          "val_acc": [a / 6 for a, _, _ in points],
                          "latency_ms": [float(t) for _, t, _ in points],
                          "feasible": [f for _, _, f in points], "stopped_early": False,
                          "reused_from": None, "predicted_only": None})
    history = plots.hypervolume_history(frame, ref_latency=7.0)
    ok = frame[frame["feasible"]]
    expected = [hypervolume(ok.loc[ok["number"] <= n, "val_acc"].to_numpy(float),
                            ok.loc[ok["number"] <= n, "latency_ms"].to_numpy(float), 7.0)
                for n in frame["number"]]
    assert history["hypervolume"].to_numpy() == pytest.approx(expected)


def test_charts_hold_the_right_points(runs: Path) -> None:
    frame = _frame(runs, "alpha")
    fig = plots.pareto_chart(frame)
    by_name = {t.name: t for t in fig.data}
    complete = frame[frame["state"] == "COMPLETE"]
    infeasible = complete[~complete["feasible"].astype(bool)]
    assert 0 < len(infeasible) < len(complete)
    trial_points = sum(len(t.x) for t in fig.data if t.x is not None and list(t.x) != [None]
                       and not t.name.startswith(("Pareto", "within noise", "confirmed")))
    assert trial_points == len(complete)
    assert by_name[f"infeasible ({len(infeasible)})"].marker.symbol == "circle-open"
    front = next(t for t in fig.data if t.name.startswith("Pareto"))
    assert front.line.shape == "hv"
    assert sorted(front.customdata[:, 0]) == sorted(frame[frame["pareto"]]["number"])
    assert "multiply-adds" in plots.pareto_chart(frame, "macs").layout.xaxis.title.text
    best = best_within(frame, float(complete["latency_ms"].max()))
    feasible = complete[complete["feasible"].astype(bool)]
    assert best is not None and best["val_acc"] == feasible["val_acc"].max()
    assert best_within(frame, 0.0) is None
    history = plots.hypervolume_history(frame)
    assert len(history) == len(frame) and history["hypervolume"].is_monotonic_increasing
    corr = plots.rank_correlations(frame)
    from scipy.stats import kendalltau, spearmanr

    measured = complete[complete["reused_from"].isna()]
    assert corr.iloc[0]["group"] == "all" and corr.iloc[0]["n"] == len(measured)
    assert corr.iloc[0]["spearman"] == pytest.approx(
        spearmanr(measured["macs"], measured["latency_ms"]).statistic)
    assert corr.iloc[0]["kendall"] == pytest.approx(
        kendalltau(measured["macs"], measured["latency_ms"]).statistic)
    assert plots.block_mix("res8_in1_cls10:stem_c8_k3_s1_arelu:xx_r1:head") == "unknown"  # strict
    assert len(plots.overlay_chart({"a": frame, "b": _frame(runs, "beta")}).data) == 4
    assert list(plots.stages_table(complete.iloc[0]["arch"])["stage"]) == [0, 1]


# --------------------------------------------------------------------------------- AppTest

def test_app_shows_a_run(runs: Path) -> None:
    at = _app(runs).run()
    assert not at.exception
    assert set(at.sidebar.multiselect[0].options) == {"alpha", "beta", "empty"}
    at.sidebar.multiselect[0].set_value(["alpha"]).run()
    assert not at.exception
    assert at.title[0].value == "alpha"
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # Pareto, hypervolume, FLOPs vs latency
    pareto = _figure(charts[0])
    assert pareto["layout"]["xaxis"]["title"]["text"].startswith("latency")
    assert {m.label for m in at.metric} >= {"complete", "failed", "on the front"}
    assert at.get("download_button")


def test_x_axis_switch_overlay_filters_budget_and_details(runs: Path) -> None:
    frame = _frame(runs, "alpha")
    at = _app(runs).run()
    at.sidebar.multiselect[0].set_value(["alpha", "beta"]).run()
    at.selectbox(key="focus").set_value("alpha").run()
    assert not at.exception and len(at.get("plotly_chart")) == 4  # + the overlay
    at.sidebar.radio[0].set_value("macs").run()
    assert "multiply-adds" in _figure(at.get("plotly_chart")[0])["layout"]["xaxis"]["title"]["text"]

    table = _table(at, "block_mix")
    assert len(table) == len(frame)
    at.checkbox(key="filter_feasible_alpha").check().run()
    feasible = frame[(frame["feasible"] == True)]  # noqa: E712
    assert len(_table(at, "block_mix")) == len(feasible) < len(frame)

    done = frame[(frame["state"] == "COMPLETE") & frame["feasible"].astype(bool)]
    budget = float(done["latency_ms"].quantile(0.5))
    at.slider(key="budget_alpha").set_value(round(budget, 3)).run()
    best = best_within(frame, round(budget, 3))
    assert f"trial {int(best['number'])}," in at.success[0].value

    number = int(frame[frame["state"] == "COMPLETE"].iloc[-1]["number"])
    at.selectbox(key="trial_alpha").set_value(number).run()
    codes = [c.value for c in at.code]
    assert any(f"--trial {number}" in c and "cli.py export" in c for c in codes)
    assert frame.loc[frame["number"] == number, "arch"].iloc[0] in codes
    assert len(_table(at, "kind")) == 2
    assert _table(at, "module")["module"].iloc[0] == "(total)"


def test_big_runs_page_the_table_and_draw_clouds_with_webgl(runs: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The thresholds lowered to this small run's size: the table comes in sorted pages, the
    trial clouds in WebGL with the front still SVG on top, and nothing is recomputed when
    nothing changed."""
    from nasbench.dashboard import page as dashboard

    frame = _frame(runs, "alpha")
    monkeypatch.setattr(dashboard, "PAGE_ROWS", 3)
    monkeypatch.setattr(plots, "WEBGL_FROM", 3)
    dashboard._kept.clear()  # figures made at the normal thresholds by earlier tests
    at = _app(runs).run()
    at.sidebar.multiselect[0].set_value(["alpha"]).run()
    assert not at.exception
    pages = -(-len(frame) // 3)
    page = at.number_input(key="page_alpha")
    assert page.label == f"Page (of {pages})"
    first = _table(at, "block_mix")
    assert len(first) == 3
    best = frame.sort_values("val_acc", ascending=False, na_position="last", kind="stable")
    assert list(first["number"]) == list(best["number"].head(3))
    page.set_value(pages).run()
    assert len(_table(at, "block_mix")) == len(frame) - 3 * (pages - 1)
    at.selectbox(key="sort_alpha").set_value("number").run()
    at.toggle(key="descending_alpha").set_value(False).run()
    at.number_input(key="page_alpha").set_value(1).run()
    assert list(_table(at, "block_mix")["number"]) == sorted(frame["number"])[:3]
    types = {t["name"].split(" (")[0]: t["type"] for t in _figure(at.get("plotly_chart")[0])["data"]
             if t.get("name")}
    assert types["Pareto front"] == "scatter" and "scattergl" in set(types.values())
    calls: list = []
    monkeypatch.setattr(plots, "pareto_chart", lambda *a, **k: calls.append(a))  # must not run
    at.run()  # nothing changed in the study: the figures are the ones already made
    assert not at.exception and calls == []


def test_empty_missing_and_unreadable_cases(runs: Path, tmp_path: Path) -> None:
    at = _app(tmp_path / "nowhere").run()
    assert not at.exception and "no runs folder" in at.info[0].value
    empty_dir = tmp_path / "empty_runs"
    empty_dir.mkdir()
    at = _app(empty_dir).run()
    assert not at.exception and "No run found" in at.info[0].value
    at = _app(runs).run()
    at.sidebar.multiselect[0].set_value(["empty"]).run()
    assert not at.exception and "no trials yet" in at.info[0].value
    broken = tmp_path / "broken_runs" / "bad"
    broken.mkdir(parents=True)
    (broken / "study.db").write_bytes(b"this is not a database")
    at = _app(broken.parent).run()
    assert not at.exception and "Cannot read run" in at.warning[0].value
    assert "is not a study database (not SQLite)" in at.warning[0].value
    damaged = tmp_path / "damaged_runs" / "old"
    damaged.mkdir(parents=True)
    data = bytearray((Path(__file__).resolve().parents[1] / "fixtures" / "study-v0.1.db").read_bytes())
    data[4096 * 5:4096 * 12] = bytes((b * 7 + 13) % 256 for b in data[4096 * 5:4096 * 12])
    (damaged / "study.db").write_bytes(bytes(data))
    at = _app(damaged.parent).run()
    assert not at.exception and "is damaged" in at.warning[0].value and ".recover" in at.warning[0].value
    assert (damaged / "study.db").read_bytes() == bytes(data)  # nothing written to it


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_run_with_only_unfinished_trials(tmp_path: Path) -> None:
    study = open_study(SearchConfig(space="tiny", runs_dir=str(tmp_path), study="started"))
    study.ask()  # a trial that is still running
    at = _app(tmp_path).run()
    assert not at.exception and "No finished trial yet" in at.info[0].value


# ------------------------------------------------------------------------ headless Chromium

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ARTEFACTS = ROOT / "runs" / "test-artefacts"
"""Where the browser test keeps its screenshot of the dashboard (runs/ is not committed)."""
_VISIBLE_JS = """(chart) => {
  const visible = (el) => {
    const s = getComputedStyle(el);
    const paint = (c, o) => c && c !== 'none' && !/rgba\\([^)]*,\\s*0\\)$/.test(c) && parseFloat(o) > 0;
    return paint(s.fill, s.fillOpacity) || (paint(s.stroke, s.strokeOpacity) && parseFloat(s.strokeWidth) > 0);
  };
  const traces = Array.from(chart.querySelectorAll('.scatterlayer .trace')).map((t, i) => ({
    name: i, points: Array.from(t.querySelectorAll('.points path')).map(visible),
    labels: Array.from(t.querySelectorAll('.textpoint text')).map((x) => x.textContent)}));
  const legend = {};
  chart.querySelectorAll('.legend .traces').forEach((t) => {
    if (!t.querySelector('.legendpoints path, .legendlines path')) return;  // a group's title
    const paths = Array.from(t.querySelectorAll('.legendpoints path, .legendlines path'));
    legend[t.textContent] = paths.some(visible);
  });
  return {traces, legend};
}"""


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (bash setup.sh --test)")
def test_browser_renders_the_pareto_chart(runs: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", APP, "--server.port",
                               str(port), "--server.address", "127.0.0.1"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        frame = _frame(runs, "beta")
        assert frame["confirmed"].any()
        figure = plots.pareto_chart(frame)
        # Every marker: trials, the front line's, the within-noise diamonds, the confirmed rings.
        expected = sum(len(t.x) for t in figure.data if t.x is not None and list(t.x) != [None])
        noise = int((frame["pareto_noise"] & ~frame["pareto"]).sum())
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            deadline = time.time() + 60
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/?source={runs}&run=beta", timeout=10_000)
                    break
                except Exception:
                    if time.time() > deadline:
                        raise
                    time.sleep(1)
            page.wait_for_selector('h1:has-text("beta")', timeout=60_000)
            chart = page.locator(".js-plotly-plot").first
            chart.locator(".scatterlayer .trace .points path").first.wait_for(timeout=60_000)
            time.sleep(1)
            points = chart.locator(".scatterlayer .trace .points path").count()
            x_title = chart.locator(".g-xtitle").text_content()
            y_title = chart.locator(".g-ytitle").text_content()
            legend = chart.locator(".legend").text_content()
            y_bars = chart.locator(".scatterlayer .errorbars path.yerror").count()
            caption = page.get_by_text("Bars: 95 % intervals").count()
            errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count()
            seen = chart.evaluate(_VISIBLE_JS)  # what a person sees: stroke or fill on every marker
            widths = page.evaluate(  # the chart's width, the page's content width (no padding)
                "() => { const c = document.querySelector('[data-testid=\"stMainBlockContainer\"]');"
                " const s = getComputedStyle(c); return [document.querySelector('.js-plotly-plot')"
                ".getBoundingClientRect().width, c.clientWidth - parseFloat(s.paddingLeft)"
                " - parseFloat(s.paddingRight)]; }")
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTEFACTS / "dashboard.png"), full_page=True)
            browser.close()
        invisible = [(t["name"], i) for t in seen["traces"] for i, v in enumerate(t["points"]) if not v]
        assert not invisible, invisible  # every marker of every kind has a visible stroke or fill
        assert seen["legend"] and all(seen["legend"].values()), [k for k, v in seen["legend"].items() if not v]
        with_points = [t for t in seen["traces"] if t["points"]]
        assert with_points[-1]["labels"] and all(l.startswith("#") for l in with_points[-1]["labels"])
        assert widths[0] >= 0.9 * widths[1], widths  # the chart spans the page
        assert points == expected, (points, expected)  # every trial and every front marker drawn
        assert x_title.startswith("latency (ms") and y_title == "validation accuracy"
        assert f"Pareto front ({int(frame['pareto'].sum())})" in legend
        assert f"confirmed ({int(frame['confirmed'].sum())})" in legend
        assert (f"within noise ({noise})" in legend) == (noise > 0)
        assert y_bars == int(frame["pareto"].sum()) + noise  # an accuracy bar on each of them
        assert caption == 1
        assert errors == 0
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_app_picks_up_new_trials_of_a_running_search(tmp_path: Path) -> None:
    base = dict(space="tiny", epochs=1, threads=1, latency_time_s=0.05, runs_dir=str(tmp_path),
                study="live", sampler="random")
    run_search(SearchConfig(**base, budget=2))
    at = _app(tmp_path).run()
    complete = next(m for m in at.metric if m.label == "complete")
    assert complete.value == "2"
    run_search(SearchConfig(**base, budget=3))  # the search goes on while the page is open:
    # the next render reads the new trial (no cache to expire)
    at.run()
    assert not at.exception
    assert next(m for m in at.metric if m.label == "complete").value == "3"
