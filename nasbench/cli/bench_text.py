"""Terminal renderings of benches: the progress line, headers and summaries, a bench table,
replays and imported tables. Output for the terminal only; the CLI prints them.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

import pandas as pd

from nasbench.cli.text import BENCH_SHOWN, MACS_NOTE



class BenchProgressLine:
    """The bench's progress line: trials done of all queued (architectures × passes), ETA."""

    def __init__(self, total: int, done: int, architectures: int, passes: int) -> None:
        self.total, self.start_done = total, done
        self.architectures, self.passes = architectures, passes
        self.started = time.monotonic()

    def render(self, done: int, trial: Any) -> str:
        """The line after ``trial`` finished; ``done``: the bench's complete trials now."""
        new = max(0, done - self.start_done)
        elapsed = time.monotonic() - self.started
        eta = elapsed / new * max(0, self.total - done) if new else float("nan")
        eta_text = "--" if eta != eta else f"{int(eta // 3600)}h{int(eta % 3600 // 60):02d}m{int(eta % 60):02d}s"
        filled = int(24 * min(done, self.total) / max(1, self.total))
        return (f"[{'#' * filled}{'.' * (24 - filled)}] {done}/{self.total} bench trials "
                f"({self.architectures} architectures x {self.passes} passes) | elapsed "
                f"{int(elapsed // 60)}m{int(elapsed % 60):02d}s | ETA {eta_text} | last #{trial.number} "
                f"{trial.state.name}")


def bench_table_text(table: pd.DataFrame, shown: pd.DataFrame) -> str:
    """A bench table's rows ``shown``, with what the columns mean."""
    with pd.option_context("display.max_colwidth", 200, "display.width", 250):
        text = shown[list(BENCH_SHOWN)].to_string(index=False, float_format=lambda v: f"{v:.4g}")
    done = table[table["complete"]]
    if "latency_source" in table.columns:  # an imported table (bench-import)
        r = table.iloc[0]
        return text + (f"\n\n{len(table)} architectures, {int(table['pareto'].sum())} on the exact "
                       f"front. val_acc_mean: {r['accuracy_source']}, mean over the published "
                       f"seeds; latency_ms: {r['latency_source']} on {r['latency_device']}, ms at "
                       f"batch 1; params and macs counted here (macs: multiply-adds, {MACS_NOTE}).")
    text += (f"\n\n{len(done)} of {len(table)} architectures complete, {int(table['pareto'].sum())} "
             f"on the exact front (val_acc_mean: last-epoch validation accuracy, mean over "
             f"{table['seeds'].iloc[0]} seeds; latency_ms: median of {table['passes'].iloc[0]} "
             f"passes' medians, ms at batch 1; latency_pass_spread: (max - min) / median of the "
             f"passes; macs: multiply-adds, {MACS_NOTE}).")
    if not done.empty:
        r = done.iloc[0]
        text += (f"\nConditions: {r['cond_device_name']}, {r['cond_threads']} thread(s), "
                 f"{r['cond_dtype']}, {r['cond_memory_format']}, torch {r['cond_torch_version']}.")
    return text


def replay_summary(summary: pd.DataFrame, meta: dict[str, Any], exact_hv: float,
                   epochs: int | None = None) -> str:
    """Hypervolume fraction per sampler and checkpoint, with the reference point (``epochs``:
    the searches replayed trained that many, :func:`nasbench.workflows.replay.cut_to_epochs`)."""
    ref = meta["reference_point"]
    lines = [f"Replay on the {meta['space']} / {meta['dataset']} table ({meta['complete']} "
             f"architectures, {meta['seeds']} seeds, {meta['passes']} latency passes)"
             + (f"; searches of {epochs} epochs (curves cut there), scored at the table's "
                f"full-training figures" if epochs else ""),
             f"Hypervolume reference point: val_acc {ref['val_acc']:g}, latency "
             f"{ref['latency_ms']:.4g} ms (1.1 x the slowest); exact front: {exact_hv:.4g} acc x ms",
             f"{'sampler':<8} {'archs':>6} {'HV fraction median':>19} {'IQR':>15} "
             f"{'simulated s':>12} {'epochs':>7} {'real ms/trial':>14} "
             f"{'regret p10 / p25 / p50':>24}"]
    for r in summary.itertuples():
        regret = " / ".join(f"{getattr(r, f'regret_q{q}_mean', float('nan')):.4f}"
                            for q in (10, 25, 50))
        lines.append(f"{r.sampler:<8} {r.architectures:>6} {r.hv_fraction_median:>19.4f} "
                     f"{r.hv_fraction_q25:>7.4f}-{r.hv_fraction_q75:<7.4f} {r.simulated_s_median:>12.1f} "
                     f"{r.epochs_median:>7.0f} {1e3 * r.real_s_per_trial:>14.1f} {regret:>24}")
    lines.append(f"(median and interquartile range over {int(summary['repeats'].max())} repeats; "
                 f"simulated s: the table's training and measuring seconds of the architectures "
                 f"the search evaluated; epochs: epochs trained, medians; regret pN: the best "
                 f"validation accuracy in the table within the Nth percentile of its latencies, "
                 f"minus the best the search trained fully within it, mean over repeats)")
    return "\n".join(lines)


def bench_header(config: Any, progress: BenchProgressLine, workers: int) -> str:
    """Where a bench stands as it starts or resumes."""
    return (f"Bench {config.study_name!r} in {config.storage_url}: {progress.start_done} of "
            f"{progress.total} trials done ({progress.architectures} architectures of "
            f"{config.space}, {config.seeds} seeds, {config.passes} latency passes); {workers} "
            f"worker(s)")


def bench_summary(outcome: Any) -> str:
    """A finished bench: its exact front and the files written."""
    front = outcome.table[outcome.table["pareto"]].sort_values("latency_ms")
    return (bench_table_text(outcome.table, front) + "\n\n"
            + "\n".join(f"{kind:<6} {path}" for kind, path in outcome.files.items()))


def imported_table(folder: Any, table: Any, meta: dict[str, Any]) -> str:
    """What ``bench-import`` wrote: the table, its sources, its front."""
    front = table[table["pareto"]].sort_values("latency_ms")
    imported = meta["imported"]
    return "\n".join([
        f"{len(table):,} architectures of {meta['space']} on {meta['dataset']}: accuracy "
        f"{imported['accuracy_source']}; latency on {imported['device']}, {imported['latency_source']}",
        f"Exact front: {len(front)} architectures, {front['latency_ms'].min():.3f} to "
        f"{front['latency_ms'].max():.3f} ms, validation accuracy {front['val_acc_mean'].min():.4f} to "
        f"{front['val_acc_mean'].max():.4f}",
        f"Written to {folder}   (python cli.py results {shlex.quote(str(folder))}; "
        f"python cli.py replay {shlex.quote(str(folder))})",
    ])
