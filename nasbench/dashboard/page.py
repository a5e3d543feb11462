"""The dashboard page: ``nasbench dashboard [RUNS]`` serves it from an installed package, and
``streamlit run dashboard.py [-- RUNS]`` in a checkout (both bind to localhost).

Opens on ``RUNS`` (default ``runs/``); another folder or a storage URL can be typed in the
sidebar or given in the address: ``http://localhost:8501/?source=/path/to/runs&run=NAME``.

Lays out and calls nasbench: the data comes from the study storage through
``nasbench.study.results``, the figures from the pure functions of ``nasbench.dashboard.plots``. Importing this
module renders nothing; :func:`main` renders the page.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import streamlit as st

from nasbench.dashboard import plots
from nasbench.spec.arch import decode
from nasbench.bench.table import as_results_frame, bench_table, imported_folder, load_bench
from nasbench.measure.profiling import module_costs as costs
from nasbench.workflows.replay import search_hv_fraction
from nasbench.study.results import ResultsTable, best_within
from nasbench.workflows.settings import constraints_of
from nasbench.study.storage import find_runs, open_run
from nasbench.study.reader import StorageUnreachable


@st.cache_resource(show_spinner=False, max_entries=64)
def load_results(source: str, study: str | None) -> ResultsTable:
    """The incrementally refreshed results table of one run, shared by every session of this
    server (opening the run raises ``ValueError``, and nothing is kept)."""
    return ResultsTable(open_run(source, study))


@st.cache_data(ttl=3, show_spinner=False)
def bench_frame(source: str, study: str | None, stamp: float) -> pd.DataFrame:
    """A bench shown as one trial per architecture (mean accuracy, median latency), re-read
    when the storage file changes, or after 3 s."""

    return as_results_frame(bench_table(open_run(source, study)))


@st.cache_data(show_spinner=False, max_entries=8)
def imported_frame(folder: str, stamp: float) -> pd.DataFrame:
    """An imported table shown as one trial per architecture, re-read when its file changes."""

    return as_results_frame(load_bench(folder)[0])


def published_section(frame: pd.DataFrame) -> None:
    """For a search whose accuracies come from a table: the latency measured here against the
    table's (a published device's) for the same architectures."""
    path = frame.attrs.get("accuracy_from")
    if not path:
        return
    try:
        table, meta = load_bench(path)
    except ValueError as exc:
        st.warning(f"The accuracy table of this search cannot be read now: {exc}")
        return
    joined = plots.measured_vs_table(frame, table)
    if len(joined) < 3:
        return
    device = meta["conditions"].get("device_name") or "the table's device"
    ours = frame["device_name"].dropna()
    fig, rho = plots.measured_vs_table_chart(joined, device, ours.iloc[0] if not ours.empty else "here")
    st.subheader("Latency here against the table's")
    st.plotly_chart(fig, key="published_chart")
    st.caption(f"{len(joined)} architectures of this search: Spearman's rank correlation of the "
               f"latency measured here with the latency on {device} ({meta.get('imported', {}).get('latency_source', 'from the table')}): "
               f"{rho:.3f}. Accuracies come from the table ({path}).")


def load_frame(source: str, study: str | None = None) -> tuple[pd.DataFrame, str, str | None]:
    """The results table of one run, the study's name, and a one-line warning when the storage
    could not be read now (the last figures read are shown, and the next refresh retries).

    A search's table is brought up to date incrementally (only new and running trials are
    read); a bench is read whole. Raises ``ValueError`` when the run cannot be opened at all.
    """

    folder = imported_folder(source)
    if folder is not None:  # bench-import: a table, no study
        table, meta = load_bench(folder)
        frame = imported_frame(str(folder), (folder / "bench.json").stat().st_mtime)
        frame.attrs.update(kind="bench", space=meta["space"], dataset=meta["dataset"], constraints={},
                           device=meta["conditions"].get("device_name"))
        return frame, folder.name, None
    table = load_results(source, study)
    warning = None
    try:
        frame = table.refresh()
    except StorageUnreachable as exc:
        frame = table.last_frame
        if frame is None:
            raise ValueError(str(exc)) from None
        warning = (f"{exc}; showing the figures read at {table.last_read:%H:%M:%S}, "
                   f"retrying at each refresh")
    record = table.record
    if record.is_bench:
        frame = bench_frame(source, study, _stamp(source))
    frame.attrs.update(kind=record.kind, space=record.space, dataset=record.dataset,
                       constraints=constraints_of(record),
                       accuracy_from=(record.settings or {}).get("accuracy_from"))
    return frame, table.study.study_name, warning


@st.cache_data(ttl=10, show_spinner=False)
def find_bench(source: str, space: str, dataset: str, device_name: str) -> tuple[str, pd.DataFrame, dict] | None:
    """A finished bench in ``source`` of the same space, dataset and device, if there is one."""

    for run in find_runs(source):
        if not (run / "bench.json").is_file():
            continue
        try:
            table, meta = load_bench(run)
        except ValueError:
            continue
        if (meta["space"], meta["dataset"], meta["conditions"].get("device_name")) == \
                (space, dataset, device_name):
            return run.name, table, meta
    return None


def exact_front_section(frame: pd.DataFrame, source: str) -> pd.DataFrame | None:
    """For a search whose space was benched here: its hypervolume as a fraction of the exact
    front's; returns the exact front to overlay."""

    devices = frame["device_name"].dropna()
    if "://" in source or frame.attrs.get("kind") != "search" or devices.empty:
        return None
    found = find_bench(source, frame.attrs["space"], frame.attrs["dataset"], devices.iloc[0])
    if found is None:
        return None
    name, table, meta = found
    fraction = search_hv_fraction(frame, table, meta, frame.attrs.get("constraints"))
    st.info(f"Hypervolume of this search: {fraction:.1%} of the exact front of {meta['space']} "
            f"(bench `{name}`: {meta['complete']} architectures, same data and device), at the "
            f"bench's figures and reference point. Dashed line: the exact front.")
    return table[table["pareto"]].sort_values("latency_ms")


@st.cache_data(show_spinner=False)
def module_costs(arch: str) -> pd.DataFrame:

    return pd.DataFrame(costs(decode(arch), depth=2))


def _num(value: object, spec: str) -> str:
    """``value`` formatted, or a dash where a figure was not recorded (e.g. a bench's p90)."""
    try:
        return "–" if value is None or pd.isna(value) else format(float(value), spec)
    except (TypeError, ValueError):
        return "–"


def _stamp(path: str) -> float:
    db = Path(path) / "study.db"
    return db.stat().st_mtime if db.is_file() else 0.0


def default_source() -> str:
    """The runs folder given on the command line (``streamlit run dashboard.py -- RUNS``),
    else ``runs``."""
    if Path(sys.argv[0]).name in ("dashboard.py", "page.py") and len(sys.argv) > 1:
        return sys.argv[1]
    return "runs"


def sidebar() -> tuple[str, list[str], str, bool]:
    """Source, chosen runs, x axis and live refresh from the sidebar."""
    st.sidebar.header("Runs")
    source = st.sidebar.text_input("Runs folder or storage URL",
                                   value=st.query_params.get("source", default_source()), key="source",
                                   help="A folder of runs (each runs/<study>/study.db), or an "
                                        "Optuna storage URL such as postgresql://…")
    if "://" in source:
        chosen = [source]
    else:
        runs = [p.name for p in find_runs(source)]
        wanted = [r for r in st.query_params.get_all("run") if r in runs]
        chosen = st.sidebar.multiselect("Runs to show", runs, default=wanted or runs[:1], key="runs",
                                        help="Several runs are overlaid (compare samplers, "
                                             "spaces, devices).")
    x_axis = st.sidebar.radio("x axis", list(plots.AXES), key="x_axis",
                              format_func=lambda k: {"latency_ms": "latency", "macs": "FLOPs (MACs)",
                                                     "params": "params"}[k])
    live = st.sidebar.toggle("Refresh every 5 s while a search runs", value=True, key="live")
    st.sidebar.caption("FLOPs are multiply-adds (fvcore: 1 multiply-add = 1 flop). Latency is "
                       "the median in ms at batch 1.")
    return source, chosen, x_axis, live


def load(source: str, chosen: list[str]) -> dict[str, pd.DataFrame] | None:
    """Frames by run name, or ``None`` after a friendly message."""
    if "://" not in source and not Path(source).is_dir():
        st.info(f"There is no runs folder at `{source}` yet. Start a search with "
                f"`python cli.py search --budget 50`, or type another folder in the sidebar.")
        return None
    if not chosen:
        st.info(f"No run found in `{source}`: a run is a folder holding a `study.db` (or an "
                f"imported table). Start one "
                f"with `python cli.py search --budget 50`.")
        return None
    frames: dict[str, pd.DataFrame] = {}
    for name in chosen:
        path = name if "://" in source else str(Path(source) / name)
        try:
            frame, study_name, warning = load_frame(path)
        except ValueError as exc:
            st.warning(f"Cannot read run `{name}`: {exc}")
            continue
        if warning:
            st.warning(f"Run `{name}`: {warning}")
        frames[study_name if "://" in source else name] = frame
    return frames or None


def headline(name: str, frame: pd.DataFrame) -> None:
    states = frame["state"].value_counts()
    cols = st.columns(5)
    cols[0].metric("complete", int(states.get("COMPLETE", 0)))
    cols[1].metric("failed", int(states.get("FAIL", 0)))
    cols[2].metric("running", int(states.get("RUNNING", 0)))
    cols[3].metric("on the front", int(frame["pareto"].sum()))
    done = frame[frame["state"] == "COMPLETE"]
    cols[4].metric("best val_acc", f"{done['val_acc'].max():.4f}" if not done.empty else "–")


def budget_section(frame: pd.DataFrame, name: str) -> None:
    done = frame[(frame["state"] == "COMPLETE") & frame["feasible"].astype(bool)]
    low, high = float(done["latency_ms"].min()), float(done["latency_ms"].max())
    st.subheader("Latency budget")
    if high <= low:
        high = low + 1e-3
    budget = st.slider("Latency budget (ms, median at batch 1)", min_value=round(low, 3),
                       max_value=round(high, 3), value=round((low + high) / 2, 3), step=0.001,
                       key=f"budget_{name}", format="%.3f")
    best = best_within(frame, budget)
    if best is None:
        st.warning(f"No feasible trial within {budget:.3f} ms.")
    else:
        st.success(f"Best within {budget:.3f} ms: trial {int(best['number'])}, val_acc "
                   f"{best['val_acc']:.4f} at {best['latency_ms']:.3f} ms, "
                   f"{int(best['params']):,} params, {int(best['macs']):,} MACs")
        st.code(best["arch"], language=None)


PAGE_ROWS = 1000
"""Rows of the results table sent to the browser at once."""


def table_section(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    st.subheader("Results table")
    data = plots.enrich(frame)
    c1, c2, c3 = st.columns(3)
    # Filter widgets are keyed by run, so switching runs does not carry filters over.
    states = c1.multiselect("State", sorted(data["state"].unique()), default=sorted(data["state"].unique()),
                            key=f"filter_state_{name}")
    mixes = c2.multiselect("Block kinds", sorted(data["block_mix"].unique()),
                           default=sorted(data["block_mix"].unique()), key=f"filter_mix_{name}")
    feasible_only = c3.checkbox("Feasible only", value=False, key=f"filter_feasible_{name}")
    shown = data[data["state"].isin(states) & data["block_mix"].isin(mixes)]
    if feasible_only:
        shown = shown[shown["feasible"] == True]  # noqa: E712
    columns = [c for c in ("number", "state", "val_acc", "val_acc_ci_low", "val_acc_ci_high",
                           "latency_ms", "latency_ci_low_ms", "latency_ci_high_ms", "latency_iqr_ms",
                           "latency_wall_ms", "host_busy", "latency_predicted_ms", "params", "macs",
                           "feasible", "pareto",
                           "pareto_noise", "confirmed", "stopped_early", "predicted_only",
                           "block_mix", "kernel", "reused_from", "arch")
               if c in shown.columns and (c not in ("latency_predicted_ms", "predicted_only")
                                          or shown[c].notna().any())]
    page = shown
    if len(shown) > PAGE_ROWS:  # thousands of rows: sort here, send one page to the browser
        p1, p2, p3 = st.columns(3)
        by = p1.selectbox("Sort by", columns, index=columns.index("val_acc"), key=f"sort_{name}")
        descending = p2.toggle("Descending", value=True, key=f"descending_{name}")
        pages = -(-len(shown) // PAGE_ROWS)
        number = p3.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1,
                                 key=f"page_{name}")
        ordered = shown.sort_values(by, ascending=not descending, na_position="last", kind="stable")
        page = ordered.iloc[(number - 1) * PAGE_ROWS:number * PAGE_ROWS]
    st.dataframe(page[columns], hide_index=True, key="table",
                 column_config={"arch": st.column_config.TextColumn("arch", width="large"),
                                "macs": st.column_config.NumberColumn("MACs", format="%d")})
    if page is shown:
        st.caption(f"{len(shown)} of {len(data)} trials. Click a column header to sort.")
    else:
        st.caption(f"Rows {(number - 1) * PAGE_ROWS + 1}–{(number - 1) * PAGE_ROWS + len(page)} of "
                   f"{len(shown)} shown ({len(data)} trials), sorted by {by}; a column header "
                   f"sorts within the page.")
    st.download_button("Download this table as CSV",  # made when clicked, not at every render
                       lambda: shown.drop(columns=["status"]).to_csv(index=False),
                       file_name=f"{name}-results.csv", mime="text/csv", key="download")
    return shown


def details_section(frame: pd.DataFrame, source: str, name: str) -> None:
    st.subheader("Trial details")
    done = frame[frame["state"] == "COMPLETE"].sort_values("val_acc", ascending=False)
    if done.empty:
        return
    labels = {int(r.number): f"#{int(r.number)}  acc {r.val_acc:.4f}  {r.latency_ms:.3f} ms"
              + ("  (front)" if r.pareto else "") for r in done.itertuples()}
    number = st.selectbox("Trial", list(labels), format_func=labels.get, key=f"trial_{name}")
    row = done[done["number"] == number].iloc[0]
    st.code(row["arch"], language=None)
    st.markdown("**Stages**")  # full width: every column readable
    st.dataframe(plots.stages_table(row["arch"]), hide_index=True, key="stages", width="stretch")
    left, right = st.columns(2)
    with left:
        st.markdown("**Latency**")
        search = (f"median {_num(row['latency_search_ms'], '.3f')} ms, p90 "
                  f"{_num(row['latency_p90_ms'], '.3f')} ms, IQR {_num(row['latency_iqr_ms'], '.3f')} ms, "
                  f"CV {_num(row['latency_cv'], '.1%')} over {_num(row['latency_samples'], '.0f')} samples")
        st.markdown(
            (f"confirmed: median **{_num(row['latency_ms'], '.3f')} ms** (95 % interval "
             f"{_num(row['latency_ci_low_ms'], '.3f')}–{_num(row['latency_ci_high_ms'], '.3f')} ms, "
             f"over interleaved rounds)  \nthe search's own measurement: {search}"
             if bool(row.get("confirmed", False)) else f"**{search}**")
            + f"  \n{row['device_name']}, "
            f"{_num(row['threads'], '.0f')} thread(s), batch {_num(row['batch'], '.0f')}, {row['dtype']}, "
            f"{row['memory_format']}, torch {row['torch_version']}, allocator: {row['allocator']}")
    with right:
        st.markdown("**Params and multiply-adds per module**")
        st.dataframe(module_costs(row["arch"]), hide_index=True, key="modules")
    run_ref = source if "://" in source else str(Path(source) / name)
    command = (f"{python_command()} cli.py export {shlex.quote(run_ref)} --trial {int(number)} "
               f"--out {shlex.quote(f'exported/{name}-trial{int(number)}')}")
    st.markdown("**Export it**")
    st.code(command, language="bash")


def python_command() -> str:
    """How to call this Python from the working folder (``.venv/bin/python`` when the dashboard
    runs from the project's environment), quoted for a shell."""
    exe = Path(sys.executable)
    try:
        return shlex.quote(str(exe.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(exe))


def _version(source: str, frames: dict[str, pd.DataFrame]) -> tuple | None:
    """What the figures of ``frames`` depend on: each run and the version of its table
    (``None`` when a frame has no version, e.g. a bench: its figures are not kept)."""
    versions = tuple((source, name, f.attrs.get("version")) for name, f in frames.items())
    return None if any(v is None for _, _, v in versions) else versions


@st.cache_resource(show_spinner=False, max_entries=64)
def _kept(key: tuple, _make: Callable[[], Any]) -> Any:
    return _make()


def derived(key: tuple, make: Callable[[], Any]) -> Any:
    """``make()``, computed once per ``key`` (the runs' table versions, the chart's options)
    and shared by every session: a re-render with no new trial recomputes nothing. Figures
    and tables returned are read only."""
    if any(part is None for part in key[1:2]):
        return make()
    return _kept(key, make)


def body(source: str, chosen: list[str], x_axis: str) -> None:
    frames = load(source, chosen)
    if frames is None:
        return
    name = next(iter(frames))
    if len(frames) > 1:
        name = st.selectbox("Run in focus", list(frames), key="focus")
    frame = frames[name]
    st.title(f"{name}")
    if frame.empty:
        st.info("This run has no trials yet. If a search is starting, it will appear here.")
        return
    headline(name, frame)
    if not (frame["state"] == "COMPLETE").any():
        st.info("No finished trial yet: the charts appear once the first trial completes.")
        return
    exact = exact_front_section(frame, source)
    focus = _version(source, {name: frame})
    c1, c2 = st.columns(2)
    every = c1.toggle("Axes: every trial (also those stopped early)", value=False, key="every")
    all_bars = c2.toggle("Intervals on every point (not only the front)", value=False, key="bars")
    st.plotly_chart(derived(("pareto", focus, x_axis, exact is not None, every, all_bars),
                            lambda: plots.pareto_chart(frame, x_axis, exact=exact, focus=not every,
                                                       all_bars=all_bars)),
                    key="pareto_chart", width="stretch")
    if "pareto_noise" in frame:
        st.caption(plots.BARS_NOTE + f" {int(frame['pareto_noise'].sum())} trial(s) on the front "
                   f"within noise, {int(frame['confirmed'].sum())} confirmed.")
    if len(frames) > 1:
        st.plotly_chart(derived(("overlay", _version(source, frames), x_axis),
                                lambda: plots.overlay_chart(frames, x_axis)), key="overlay_chart")
    if (frame["state"].eq("COMPLETE") & frame["feasible"].astype(bool)).any():
        budget_section(frame, name)
    left, right = st.columns(2)
    with left:
        st.plotly_chart(derived(("hypervolume", _version(source, frames)),
                                lambda: plots.hypervolume_chart(frames)), key="hypervolume_chart")
    with right:
        st.plotly_chart(derived(("flops", focus), lambda: plots.flops_latency_chart(frame)),
                        key="flops_chart")
        corr = derived(("correlations", focus), lambda: plots.rank_correlations(frame))
        if not corr.empty:
            st.dataframe(corr.round(3), hide_index=True, key="correlations")
    published_section(frame)
    if plots.has_predictions(frame):
        st.plotly_chart(plots.predicted_chart(frame), key="predicted_chart")
    table_section(frame, name)
    details_section(frame, source, name)


def main() -> None:
    """Render the page."""
    st.set_page_config(page_title="nasbench: accuracy vs latency", layout="wide")
    source, chosen, x_axis, live = sidebar()
    if live:
        st.fragment(run_every=5)(body)(source, chosen, x_axis)
    else:
        body(source, chosen, x_axis)


if __name__ == "__main__":  # streamlit runs this file as a script
    main()
