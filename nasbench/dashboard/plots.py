"""Plots for the dashboard: the data is computed by plain functions, the figures drawn by pure
functions from a results DataFrame (see :func:`nasbench.study.results.results_frame`) to a Plotly
figure. Nothing here reads storage or touches Streamlit."""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from nasbench.spec.arch import Stage, decode
from nasbench.spec.cells import EDGES, CellArch
from nasbench.study.results import hypervolume, pareto_frame
from nasbench.study.rules import eligible_mask, measured_mask, reference_point, bool_column

AXES: dict[str, str] = {
    "latency_ms": "latency (ms, median, batch 1)",
    "macs": "multiply-adds (fvcore flops: 1 multiply-add = 1 flop)",
    "params": "parameters",
}
KERNEL_SYMBOLS = {3: "circle", 5: "square", 7: "diamond"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f")
_HOVER = ("trial %{customdata[0]}<br>val_acc %{customdata[1]:.4f}<br>latency %{customdata[2]:.3f} ms"
          "<br>params %{customdata[3]:,}<br>MACs %{customdata[4]:,}<br>%{customdata[5]}<extra></extra>")


@functools.lru_cache(maxsize=65536)
def _stages(arch: str) -> tuple[Stage, ...] | None:
    try:
        spec = decode(arch)
    except ValueError:
        return None
    return None if isinstance(spec, CellArch) else spec.stages


@functools.lru_cache(maxsize=65536)
def block_mix(arch: str | None) -> str:
    """The block kinds an architecture string uses, e.g. ``ds+ir``; for a NAS-Bench-201 cell,
    its number of 3x3 convolutions, e.g. ``cell, 2 conv3x3`` (``unknown`` if it is not a valid
    string)."""
    try:
        spec = decode(arch) if isinstance(arch, str) else None
    except ValueError:
        return "unknown"
    if isinstance(spec, CellArch):
        return f"cell, {spec.ops.count('nor_conv_3x3')} conv3x3"
    return "+".join(sorted({s.kind for s in spec.stages})) if spec else "unknown"


def main_kernel(arch: str | None) -> int:
    """The kernel size most blocks use (ties go to the larger kernel), 0 if unknown."""
    stages = _stages(arch) if isinstance(arch, str) else None
    if not stages:
        return 0
    counts: Counter[int] = Counter()
    for stage in stages:
        counts[stage.kernel] += stage.repeats
    return max(counts, key=lambda k: (counts[k], k))


def enrich(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``block_mix``, ``kernel`` and ``status`` (pareto / feasible / infeasible / failed /
    running / pruned) to a results frame."""
    out = frame.copy()
    out["block_mix"] = out["arch"].map(block_mix)
    out["kernel"] = out["arch"].map(main_kernel)
    status = np.where(out["state"] == "COMPLETE",
                      np.where(out["feasible"].astype(bool), "feasible", "infeasible"),
                      out["state"].str.lower())
    out["status"] = np.where(out["pareto"].astype(bool), "pareto", status)
    return out


WEBGL_FROM = 1000
"""Clouds of at least this many trials are drawn with WebGL (``Scattergl``): thousands of SVG
markers make a browser crawl. The front, its error bars and rings stay SVG, drawn on top."""


def _cloud(points: int) -> type:
    """The scatter trace type for a cloud of trials: WebGL from :data:`WEBGL_FROM` points."""
    return go.Scattergl if points >= WEBGL_FROM else go.Scatter


def _hover(frame: pd.DataFrame) -> str:
    """The hover template for the points of ``frame`` (see :func:`_custom`)."""
    return _HOVER if len(frame) < WEBGL_FROM else _HOVER.replace("<br>%{customdata[5]}", "")


def _custom(frame: pd.DataFrame) -> np.ndarray:
    """Hover data per point; a WebGL cloud leaves out the architecture string (half the page's
    weight at 10,000 trials: it is in the table and the trial details)."""
    cols = ["number", "val_acc", "latency_ms", "params", "macs", "arch"]
    if len(frame) >= WEBGL_FROM:
        cols = cols[:-1]
        return frame[cols].astype(float).fillna(0).to_numpy()
    return frame[cols].astype(object).where(frame[cols].notna(), 0).to_numpy()


def pareto_chart(frame: pd.DataFrame, x: str = "latency_ms", title: str | None = None,
                 exact: pd.DataFrame | None = None, focus: bool = True,
                 all_bars: bool = False) -> go.Figure:
    """Accuracy against ``x`` (latency, MACs or params): every trial a point, coloured by block
    kind mix, shaped by kernel; trials stopped early faint; infeasible trials grey and hollow;
    failed trials red crosses below the axis minimum; the front of feasible trials on top as a
    bold step line, its points labelled by trial number, with their 95 % intervals. ``exact``:
    a bench's exact front, drawn dashed on the latency axis. ``focus``: the accuracy axis spans
    the trials trained fully (a stopped trial's low accuracy would squeeze them into a band);
    ``all_bars``: intervals on every point, not only on the front."""
    if x not in AXES:
        raise ValueError(f"x must be one of {', '.join(AXES)}, got {x!r}")
    data = enrich(frame)
    fig = go.Figure()
    done = data[data["state"] == "COMPLETE"]
    stopped_mask = (bool_column(done["stopped_early"]) if "stopped_early" in done
                    else pd.Series(False, index=done.index))
    feasible = done[done["feasible"].astype(bool) & ~stopped_mask]
    _cloud_traces(fig, done, feasible, done[stopped_mask], x, all_bars)
    trained = feasible if not feasible.empty else done
    n_failed = _failed_trace(fig, data, x, trained)
    _front_traces(fig, data, x, exact)
    _kernel_legend(fig)
    _layout(fig, x, title, trained if focus else None, n_failed)
    return fig


def _cloud_traces(fig: go.Figure, done: pd.DataFrame, feasible: pd.DataFrame,
                  stopped: pd.DataFrame, x: str, all_bars: bool) -> None:
    """The trials as a cloud: feasible ones by block mix and kernel, infeasible ones grey and
    hollow, stopped ones faint."""
    scatter = _cloud(len(done))
    bars = (lambda f, axis: _bars(f, axis, "rgba(120,120,120,0.6)")) if all_bars else (lambda f, axis: None)
    for i, (mix, group) in enumerate(sorted(feasible.groupby("block_mix"), key=lambda g: g[0])):
        fig.add_trace(scatter(
            x=group[x], y=group["val_acc"], mode="markers", name=f"{mix} ({len(group)})",
            legendgroup="mix", legendgrouptitle_text="block kinds",
            marker=dict(color=PALETTE[i % len(PALETTE)], size=10, opacity=0.85,
                        line=dict(width=1, color="white"),
                        symbol=np.array([KERNEL_SYMBOLS.get(k, "circle") for k in group["kernel"]])),
            error_x=bars(group, x), error_y=bars(group, "val_acc"),
            customdata=_custom(group), hovertemplate=_hover(group)))
    infeasible = done[~done["feasible"].astype(bool)]
    if not infeasible.empty:
        fig.add_trace(scatter(
            x=infeasible[x], y=infeasible["val_acc"], mode="markers",
            name=f"infeasible ({len(infeasible)})", legendgroup="state",
            legendgrouptitle_text="trial state",
            marker=dict(color="rgba(120,120,120,0.8)", size=9, symbol="circle-open",
                        line=dict(color="rgba(120,120,120,0.8)", width=1.5)),
            customdata=_custom(infeasible), hovertemplate="INFEASIBLE<br>" + _hover(infeasible)))
    if not stopped.empty:
        fig.add_trace(scatter(
            x=stopped[x], y=stopped["val_acc"], mode="markers",
            name=f"stopped early ({len(stopped)})", legendgroup="state",
            legendgrouptitle_text="trial state",
            marker=dict(color="rgba(90,90,90,0.45)", size=8, symbol="triangle-down-open",
                        line=dict(color="rgba(90,90,90,0.45)", width=1.2)),
            text=stopped["stop_reason"], customdata=_custom(stopped),
            hovertemplate="STOPPED EARLY (accuracy of its last epoch)<br>%{text}<br>" + _hover(stopped)))


def _failed_trace(fig: go.Figure, data: pd.DataFrame, x: str, trained: pd.DataFrame) -> int:
    """Failed trials as red crosses below the trained trials' lowest accuracy; their count."""
    floor = float(trained["val_acc"].min()) - 0.02 if not trained.empty else 0.0
    failed = data[(data["state"] == "FAIL") & data[x].notna()]
    n_failed = int((data["state"] == "FAIL").sum())
    if n_failed:
        fig.add_trace(go.Scatter(
            x=failed[x], y=[floor] * len(failed), mode="markers",
            name=f"failed ({n_failed}, no accuracy)", legendgroup="state",
            legendgrouptitle_text="trial state", marker=dict(color="#d62728", size=10, symbol="x"),
            text=failed["fail_reason"], hovertemplate="FAILED trial %{customdata}<br>%{text}<extra></extra>",
            customdata=failed["number"]))
    return n_failed


def _front_traces(fig: go.Figure, data: pd.DataFrame, x: str, exact: pd.DataFrame | None) -> None:
    """A bench's exact front dashed, the trials on the front within noise and those
    confirmed marked, and the front itself last, on top."""
    if exact is not None and not exact.empty and x == "latency_ms":
        fig.add_trace(go.Scatter(
            x=exact["latency_ms"], y=exact["val_acc_mean"], mode="lines+markers", line_shape="hv",
            name=f"exact front of the space ({len(exact)})", legendgroup="front",
            line=dict(color="#888", width=2, dash="dash"), marker=dict(color="#888", size=4),
            text=exact["arch"], hovertemplate="EXACT FRONT<br>val_acc %{y:.4f} (mean of seeds)"
            "<br>latency %{x:.3f} ms<br>%{text}<extra></extra>"))
    if "pareto_noise" in data and x == "latency_ms":
        noise = data[bool_column(data["pareto_noise"]) & ~data["pareto"].astype(bool)]
        if not noise.empty:
            fig.add_trace(go.Scatter(
                x=noise[x], y=noise["val_acc"], mode="markers", name=f"within noise ({len(noise)})",
                legendgroup="front", marker=dict(color="#444", size=13, symbol="diamond-open",
                                                 line=dict(color="#444", width=1.5)),
                error_x=_bars(noise, x, "#999"), error_y=_bars(noise, "val_acc", "#999"),
                customdata=_custom(noise), hovertemplate="ON THE FRONT WITHIN NOISE<br>" + _hover(noise)))
    if "confirmed" in data:
        confirmed = data[bool_column(data["confirmed"])]
        if not confirmed.empty:
            fig.add_trace(go.Scatter(
                x=confirmed[x], y=confirmed["val_acc"], mode="markers",
                name=f"confirmed ({len(confirmed)})", legendgroup="front",
                marker=dict(color="#2ca02c", size=18, symbol="circle-open",
                            line=dict(color="#2ca02c", width=2)),
                customdata=_custom(confirmed), hovertemplate="CONFIRMED<br>" + _hover(confirmed)))
    front = pareto_frame(data, x)
    if not front.empty:  # last: drawn on top of everything
        fig.add_trace(go.Scatter(
            x=front[x], y=front["val_acc"], mode="lines+markers+text", line_shape="hv",
            name=f"Pareto front ({len(front)})", legendgroup="front",
            line=dict(color="black", width=3.5), marker=dict(color="black", size=8),
            text=[f"#{int(n)}" for n in front["number"]], textposition="top left",
            textfont=dict(size=11, color="black"),
            error_x=_bars(front, x), error_y=_bars(front, "val_acc"),
            customdata=_custom(front), hovertemplate="PARETO<br>" + _hover(front)))


def _kernel_legend(fig: go.Figure) -> None:
    """Legend entries for the kernel symbols."""
    for kernel, symbol in KERNEL_SYMBOLS.items():  # legend entries for the symbols
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"kernel {kernel}",
                                 legendgroup="kernel", legendgrouptitle_text="main kernel",
                                 marker=dict(symbol=symbol, color="#555", size=9,
                                             line=dict(color="#555", width=1))))


def _layout(fig: go.Figure, x: str, title: str | None, focus: pd.DataFrame | None,
            n_failed: int) -> None:
    """Titles, legend below, and the accuracy axis on ``focus``'s trials (``None``: all)."""
    fig.update_layout(title=title or f"Validation accuracy vs {AXES[x]}", xaxis_title=AXES[x],
                      yaxis_title="validation accuracy", template="plotly_white", height=640,
                      legend=dict(groupclick="toggleitem", orientation="h", yanchor="top", y=-0.12,
                                  xanchor="left", x=0),
                      margin=dict(l=60, r=20, t=60, b=40), clickmode="event+select")
    if focus is not None and not focus.empty:
        low, high = float(focus["val_acc"].min()), float(focus["val_acc"].max())
        pad = max(0.01, 0.06 * (high - low))
        fig.update_yaxes(range=[max(0.0, low - pad - (0.02 if n_failed else 0.0)), min(1.0, high + pad)])
    if x != "latency_ms":
        fig.update_xaxes(type="log")


BARS_NOTE = ("Bars: 95 % intervals. Accuracy: Wilson's interval on the validation images (over "
             "seeds where confirmed with several); latency: the interval of the median (confirmed "
             "trials: over interleaved rounds). Within noise: no trial dominates it beyond both "
             "intervals. Green rings: confirmed by an interleaved re-measurement.")


def _bars(frame: pd.DataFrame, axis: str, color: str = "black") -> dict | None:
    """Asymmetric error bars of ``axis`` (val_acc or latency_ms) from the interval columns."""
    columns = {"val_acc": ("val_acc_ci_low", "val_acc_ci_high"),
               "latency_ms": ("latency_ci_low_ms", "latency_ci_high_ms")}.get(axis)
    if columns is None or not set(columns) <= set(frame.columns):
        return None
    value = pd.to_numeric(frame[axis], errors="coerce")
    low = (value - pd.to_numeric(frame[columns[0]], errors="coerce")).clip(lower=0).fillna(0)
    high = (pd.to_numeric(frame[columns[1]], errors="coerce") - value).clip(lower=0).fillna(0)
    return dict(type="data", symmetric=False, array=high.to_numpy(float),
                arrayminus=low.to_numpy(float), color=color, thickness=1.2, width=3)


def overlay_chart(frames: Mapping[str, pd.DataFrame], x: str = "latency_ms") -> go.Figure:
    """Several runs on one chart: each run's feasible trials faint, its front as a step line."""
    fig = go.Figure()
    for i, (name, frame) in enumerate(frames.items()):
        color = PALETTE[i % len(PALETTE)]
        done = frame[(frame["state"] == "COMPLETE") & frame["feasible"].astype(bool)]
        fig.add_trace(_cloud(len(done))(
            x=done[x], y=done["val_acc"], mode="markers", name=f"{name} trials", legendgroup=name,
            marker=dict(color=color, size=6, opacity=0.35), customdata=_custom(done),
            hovertemplate=f"{name}<br>" + _hover(done)))
        front = pareto_frame(frame, x)
        fig.add_trace(go.Scatter(x=front[x], y=front["val_acc"], mode="lines+markers",
                                 line_shape="hv", name=f"{name} front", legendgroup=name,
                                 line=dict(color=color, width=2), marker=dict(color=color, size=7),
                                 customdata=_custom(front), hovertemplate=f"{name} front<br>" + _hover(front)))
    fig.update_layout(title=f"Pareto fronts compared: validation accuracy vs {AXES[x]}",
                      xaxis_title=AXES[x], yaxis_title="validation accuracy", template="plotly_white")
    return fig


def _reference_latency(latencies: Any) -> float:
    """The reference latency of :func:`nasbench.study.rules.reference_point` (1.0 ms without any)."""
    ref = reference_point(pd.to_numeric(pd.Series(latencies, dtype=object), errors="coerce"))["latency_ms"]
    return ref if ref == ref else 1.0


def hypervolume_history(frame: pd.DataFrame, ref_latency: float | None = None) -> pd.DataFrame:
    """Hypervolume of the feasible front after each trial number (``ref_latency`` defaults to
    :func:`nasbench.study.rules.reference_point` of the complete trials)."""
    done = frame[(frame["state"] == "COMPLETE")].sort_values("number")
    if ref_latency is None:
        ref_latency = _reference_latency(done["latency_ms"])
    ok = done[eligible_mask(done)]
    numbers = np.sort(frame["number"].to_numpy(int))
    values = np.zeros(len(numbers))
    front_acc = np.empty(0)
    front_lat = np.empty(0)
    current = 0.0
    # One pass in trial order: the front (and its hypervolume) changes only when a trial lands
    # on it, so the cost grows with trials × front size, not trials².
    points = dict(zip(ok["number"].to_numpy(int), zip(ok["val_acc"].to_numpy(float),
                                                     ok["latency_ms"].to_numpy(float))))
    for i, number in enumerate(numbers):
        point = points.get(int(number))
        if point is not None:
            acc, lat = point
            if not np.any((front_acc >= acc) & (front_lat <= lat)):
                keep = ~((front_acc <= acc) & (front_lat >= lat))
                front_acc = np.append(front_acc[keep], acc)
                front_lat = np.append(front_lat[keep], lat)
                current = hypervolume(front_acc, front_lat, ref_latency)
        values[i] = current
    return pd.DataFrame({"number": numbers, "hypervolume": values})


def hypervolume_chart(frames: Mapping[str, pd.DataFrame]) -> go.Figure:
    """Hypervolume against trial number, one line per run, with a shared reference point."""
    ref = _reference_latency(pd.concat([f.loc[f["state"] == "COMPLETE", "latency_ms"]
                                        for f in frames.values()]) if frames else [])
    fig = go.Figure()
    for i, (name, frame) in enumerate(frames.items()):
        history = hypervolume_history(frame, ref)
        fig.add_trace(go.Scatter(x=history["number"], y=history["hypervolume"], mode="lines",
                                 line_shape="hv", name=name, line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.update_layout(title=f"Hypervolume vs trial (reference: accuracy 0, latency {ref:.3g} ms)",
                      xaxis_title="trial number", yaxis_title="hypervolume (accuracy × ms)",
                      template="plotly_white")
    return fig


def rank_correlations(frame: pd.DataFrame) -> pd.DataFrame:
    """Spearman and Kendall rank correlation of MACs with measured latency, overall and per
    block kind mix (groups of at least 3 trials)."""
    from scipy.stats import kendalltau, spearmanr  # deferred: scipy is slow to import

    done = enrich(frame)
    done = done[measured_mask(done)].dropna(subset=["macs", "latency_ms"])
    rows = []
    for label, group in [("all", done), *sorted(done.groupby("block_mix"), key=lambda g: g[0])]:
        if len(group) >= 3 and group["macs"].nunique() > 1 and group["latency_ms"].nunique() > 1:
            rows.append({"group": label, "n": len(group),
                         "spearman": float(spearmanr(group["macs"], group["latency_ms"]).statistic),
                         "kendall": float(kendalltau(group["macs"], group["latency_ms"]).statistic)})
    return pd.DataFrame(rows, columns=["group", "n", "spearman", "kendall"])


def flops_latency_chart(frame: pd.DataFrame) -> go.Figure:
    """Multiply-adds against measured latency per block kind mix, with rank correlations."""
    data = enrich(frame)
    done = data[measured_mask(data)]
    corr = rank_correlations(frame).set_index("group")
    fig = go.Figure()
    scatter = _cloud(len(done))
    for i, (mix, group) in enumerate(sorted(done.groupby("block_mix"), key=lambda g: g[0])):
        label = mix
        if mix in corr.index:
            label += f" (Spearman {corr.loc[mix, 'spearman']:.2f}, n={int(corr.loc[mix, 'n'])})"
        fig.add_trace(scatter(x=group["macs"], y=group["latency_ms"], mode="markers", name=label,
                                 marker=dict(color=PALETTE[i % len(PALETTE)], size=9),
                                 customdata=_custom(group), hovertemplate=_hover(group)))
    overall = (f"Spearman {corr.loc['all', 'spearman']:.2f}, Kendall {corr.loc['all', 'kendall']:.2f}"
               if "all" in corr.index else "too few trials for a correlation")
    fig.update_layout(title=f"How far do FLOPs predict latency here?<br><sup>rank correlation "
                            f"of MACs with latency: {overall}</sup>",
                      xaxis_title=AXES["macs"], yaxis_title=AXES["latency_ms"],
                      template="plotly_white")
    fig.update_xaxes(type="log")
    return fig


def has_predictions(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` holds trials with both a predicted and a measured latency."""
    return ("latency_predicted_ms" in frame and
            (pd.to_numeric(frame["latency_predicted_ms"], errors="coerce").notna()
             & pd.to_numeric(frame["latency_ms"], errors="coerce").notna()).any())


def predicted_chart(frame: pd.DataFrame) -> go.Figure:
    """The latency model's prediction against the measured latency of each trial that has both,
    with the ±10 % band around agreement."""
    predicted = pd.to_numeric(frame.get("latency_predicted_ms"), errors="coerce")
    measured_ms = pd.to_numeric(frame["latency_search_ms"] if "latency_search_ms" in frame
                                else frame["latency_ms"], errors="coerce")
    both = frame[predicted.notna() & measured_ms.notna()]
    x, y = measured_ms[both.index].to_numpy(float), predicted[both.index].to_numpy(float)
    within = float(np.mean(np.abs(y / x - 1) <= 0.10)) if len(x) else float("nan")
    top = float(max(x.max(), y.max())) * 1.05 if len(x) else 1.0
    line = np.array([0.0, top])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=np.r_[line, line[::-1]], y=np.r_[line * 1.1, line[::-1] * 0.9],
                             fill="toself", fillcolor="rgba(100,100,100,0.15)",
                             line=dict(width=0), name="±10 %", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=line, y=line, mode="lines", name="predicted = measured",
                             line=dict(color="grey", dash="dash")))
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=f"trials (n={len(x)})",
                             marker=dict(color=PALETTE[0], size=8),
                             customdata=_custom(both), hovertemplate=_hover(both)))
    fig.update_layout(title=f"Latency model: predicted against measured<br><sup>{100 * within:.0f} % "
                            f"of {len(x)} trials within ±10 %</sup>",
                      xaxis_title="measured latency (ms, median at batch 1)",
                      yaxis_title="predicted latency (ms)", template="plotly_white")
    return fig


def stages_table(arch: str) -> pd.DataFrame:
    """The stages of an architecture string as a table (a cell's edges, for a cell network)."""
    spec = decode(arch)
    if isinstance(spec, CellArch):
        return pd.DataFrame([{"edge": f"node {source} -> node {to}", "operation": op}
                             for (to, source), op in zip(EDGES, spec.ops)])
    rows = [{"stage": i, "kind": s.kind, "repeats": s.repeats, "kernel": s.kernel, "stride": s.stride,
             "expansion": s.expansion if s.kind == "ir" else None, "channels": s.channels,
             "se_ratio": s.se_ratio or None, "activation": s.activation}
            for i, s in enumerate(spec.stages)]
    return pd.DataFrame(rows)


def measured_vs_table(frame: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The complete trials of a search beside the same architectures' latency in a bench table:
    ``arch``, ``number``, ``latency_ms`` (here) and ``table_latency_ms``."""
    done = frame[(frame["state"] == "COMPLETE") & frame["latency_ms"].notna()]
    done = done.drop_duplicates("arch")[["arch", "number", "latency_ms"]]
    other = table[["arch", "latency_ms"]].rename(columns={"latency_ms": "table_latency_ms"})
    return done.merge(other, on="arch", how="inner")


def measured_vs_table_chart(joined: pd.DataFrame, device: str, here: str) -> tuple[go.Figure, float]:
    """Latency measured here against the table's device's, one point per architecture, with
    Spearman's rank correlation."""
    from scipy.stats import spearmanr  # deferred: scipy is slow to import

    rho = float(spearmanr(joined["latency_ms"], joined["table_latency_ms"]).statistic)
    fig = go.Figure(go.Scatter(
        x=joined["table_latency_ms"], y=joined["latency_ms"], mode="markers",
        marker=dict(size=8, color=PALETTE[0], line=dict(width=1, color="white")),
        customdata=joined[["number", "arch"]].to_numpy(),
        hovertemplate="trial %{customdata[0]}<br>%{customdata[1]}<br>" + device
                      + " %{x:.3f} ms<br>here %{y:.3f} ms<extra></extra>"))
    fig.update_layout(title=f"Latency here ({here}) against {device}<br><sup>Spearman {rho:.3f}, "
                            f"{len(joined)} architectures</sup>",
                      xaxis_title=f"latency on {device} (ms, published)",
                      yaxis_title="latency here (ms, median at batch 1)", template="plotly_white",
                      height=420)
    return fig, rho
