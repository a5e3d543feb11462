"""Plain-text renderings for the terminal: pure functions from results to strings.

The CLI prints what these return; nothing here prints, reads storage or measures.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

MACS_NOTE = "fvcore flops, 1 multiply-add = 1 flop"


def spaces_table(rows: list[dict[str, Any]]) -> str:
    """The search spaces with their sizes."""
    width = max(len(r["space"]) for r in rows)
    size_width = max(len(f"{r['architectures']:,}") for r in rows)
    lines = [f"{'space':<{width}}  {'architectures':>{size_width}}  description"]
    lines += [f"{r['space']:<{width}}  {r['architectures']:>{size_width},}  {r['description']}"
              for r in rows]
    return "\n".join(lines)


def blocks_report(rows: list[dict[str, Any]], devices: tuple[str, ...], cin: int, cout: int,
                  kernel: int, size: int, stride: int, expansion: float, se: float,
                  ds_ratio: float) -> str:
    """The block comparison table with the closed-form ratio and conditions."""
    shown = ["block", "params", "params_formula", "macs", "macs_formula"]
    for device in devices:
        shown += [f"{device}_ms", f"{device}_iqr_ms"]
    shown += ["params_ratio", "macs_ratio"] + [f"{d}_ratio" for d in devices]
    table = pd.DataFrame(rows)[shown].to_string(index=False, float_format=lambda v: f"{v:.4g}")
    lines = [f"Blocks {cin}->{cout} channels, {kernel}x{kernel} kernel, {size}x{size} input, "
             f"stride {stride}, expansion {expansion:g}" + (f", SE {se:g}" if se else ""), table,
             f"\nClosed-form depthwise-separable / standard ratio 1/C_out + 1/K^2 = 1/{cout} + "
             f"1/{kernel ** 2} = {ds_ratio:.4f} (measured MACs ratio {rows[1]['macs_ratio']:.4f}; "
             f"params include BatchNorm)",
             f"MACs: multiply-adds of convs and linear layers ({MACS_NOTE}). "
             f"Latency: median ms and IQR over repeated runs."]
    lines += [f"{device}: {rows[0][f'{device}_conditions']}" for device in devices]
    return "\n".join(lines)


def profile_report(report: dict[str, Any]) -> str:
    """One architecture's params, multiply-adds (by module) and latency with its conditions."""
    lat = report["latency"]
    cond = lat["conditions"]
    lines = [f"Architecture  {report['arch']}",
             f"Resolution    {report['resolution']}x{report['resolution']}",
             f"Params        {report['params']:,}",
             f"MACs          {report['macs']:,}  ({report['macs'] / 1e6:.2f} M multiply-adds; "
             f"{MACS_NOTE}, convs and linear layers only)"]
    if report["unsupported_ops"]:
        lines.append(f"Not counted   {report['unsupported_ops']}")
    lines += [f"Latency       median {lat['median_ms']:.3f} ms, p90 {lat['p90_ms']:.3f} ms, "
              f"IQR {lat['iqr_ms']:.3f} ms, CV {lat['cv'] * 100:.1f}%, {lat['samples']} samples "
              f"of {lat['runs_per_sample']} run(s), batch {cond['batch']}",
              f"Conditions    {cond['device_name']}; {cond['threads']} thread(s); {cond['dtype']}; "
              f"{cond['memory_format']}; torch {cond['torch_version']}; {cond['allocator']}",
              "\nMACs by module"]
    total = report["macs"] or 1
    lines += [f"  {name or '(total)':<28} {macs:>14,}  {100 * macs / total:5.1f}%"
              for name, macs in report["macs_by_module"].items()]
    return "\n".join(lines)


class ProgressLine:
    """The search's progress line: trials done, elapsed, ETA, front size, the last trial."""

    def __init__(self, budget: int, done: int) -> None:
        self.budget, self.start_done = budget, done
        self.started = time.monotonic()

    def render(self, study: Any, trial: Any) -> str:
        """The line after ``trial`` of ``study`` finished."""
        from optuna.trial import TrialState

        from nasbench.record import TrialRecord

        records = [TrialRecord.from_trial(t) for t in study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE,))]
        done = sum(r.reused_from is None for r in records)  # what the budget counts
        fully = sum(r.reused_from is None and not r.stopped_early for r in records)
        new = max(0, done - self.start_done)
        elapsed = time.monotonic() - self.started
        eta = elapsed / new * max(0, self.budget - done) if new else float("nan")
        front = len(study.best_trials) if done else 0
        filled = int(24 * min(done, self.budget) / self.budget)
        record = TrialRecord.from_trial(trial)
        if trial.state == TrialState.COMPLETE:
            last = f"#{trial.number} acc {trial.values[0]:.3f} lat {trial.values[1]:.3f} ms"
            if record.reused_from is not None:
                last += f" (reused #{record.reused_from})"
            elif record.stopped_early:
                last += f" (stopped after epoch {len(record.val_acc_per_epoch)})"
        else:
            last = f"#{trial.number} {trial.state.name}: {(record.fail_reason or record.note or '')[:60]}"
        eta_text = "--" if eta != eta else f"{int(eta // 60)}m{int(eta % 60):02d}s"
        return (f"[{'#' * filled}{'.' * (24 - filled)}] {done}/{self.budget} architectures, {fully} "
                f"trained fully | elapsed "
                f"{int(elapsed // 60)}m{int(elapsed % 60):02d}s | ETA {eta_text} | front {front} | "
                f"{last}")


def search_header(config: Any, done: int, workers: int) -> str:
    """Where a search stands as it starts or resumes."""
    return (f"Study {config.study_name!r} in {config.storage_url}: {done} of {config.budget} "
            f"architectures evaluated; space {config.space}, dataset {config.dataset}, sampler "
            f"{config.sampler}, pruner {config.pruner}, seed {config.seed}, device "
            f"{config.device}, {workers} worker(s)")


def front_table(frame: pd.DataFrame) -> str:
    """The Pareto front of a results table, with what its columns mean."""
    from nasbench.results import pareto_frame

    front = pareto_frame(frame)
    if front.empty:
        return "No feasible completed trial yet: the Pareto front is empty."
    lines = [f"Pareto front ({len(front)} of {len(frame)} trials; validation accuracy up, latency down)",
             f"{'trial':>5}  {'val_acc':>7}  {'latency_ms':>10}  {'params':>9}  {'MMACs':>7}  arch"]
    lines += [f"{row.number:>5}  {row.val_acc:>7.4f}  {row.latency_ms:>10.3f}  {int(row.params):>9,}  "
              f"{row.macs / 1e6:>7.2f}  {row.arch}" for row in front.itertuples()]
    lines.append(f"latency_ms: median of repeated runs at batch 1; MMACs: millions of multiply-adds "
                 f"({MACS_NOTE})")
    return "\n".join(lines)


def search_summary(outcome: Any, where: str) -> str:
    """The front, the trial counts, and where the study and table are."""
    return (f"{front_table(outcome.table)}\n\n{outcome.complete} complete, {outcome.failed} failed trials. "
            f"Study: {outcome.storage} (study {outcome.study_name!r})\n"
            f"Results table: {outcome.results_csv}   (python cli.py results {where})")


RESULTS_SHOWN = ("number", "state", "val_acc", "latency_ms", "latency_iqr_ms", "params", "macs",
                 "feasible", "pareto", "reused_from", "arch")


def results_table(frame: pd.DataFrame, shown: pd.DataFrame) -> str:
    """The rows ``shown`` of a results table, with the conditions of its latencies."""
    with pd.option_context("display.max_colwidth", 200, "display.width", 250):
        text = shown[list(RESULTS_SHOWN)].to_string(index=False, float_format=lambda v: f"{v:.4g}")
    first = frame.dropna(subset=["device_name"]).head(1)
    if not first.empty:
        r = first.iloc[0]
        text += (f"\n\nLatency: median ms at batch {r['batch']} on {r['device_name']}, {r['threads']} "
                 f"thread(s), {r['dtype']}, {r['memory_format']}, torch {r['torch_version']}. "
                 f"macs: multiply-adds ({MACS_NOTE}).")
    return text


def export_summary(exported: Any, out: str) -> str:
    """What was exported, why, and where."""
    info = exported.info
    lines = [f"Exported trial {info['trial']} ({info['chosen_by']}): val_acc {info['val_acc']:.4f}, "
             f"latency {info['latency_ms']:.3f} ms, params {info['params']:,}, MACs {info['macs']:,}",
             f"  {exported.arch.to_string()}"]
    lines += [f"  {kind:<8} {path}" for kind, path in exported.files.items()]
    lines.append(f"Train it in full: python cli.py train {out} --epochs 30")
    return "\n".join(lines)


class BenchProgressLine:
    """The bench's progress line: trials done of all queued (architectures × passes), ETA."""

    def __init__(self, total: int, done: int, architectures: int, passes: int) -> None:
        self.total, self.start_done = total, done
        self.architectures, self.passes = architectures, passes
        self.started = time.monotonic()

    def render(self, study: Any, trial: Any) -> str:
        """The line after ``trial`` of the bench ``study`` finished."""
        from nasbench.storage import count_states

        done = count_states(study).get("COMPLETE", 0)
        new = max(0, done - self.start_done)
        elapsed = time.monotonic() - self.started
        eta = elapsed / new * max(0, self.total - done) if new else float("nan")
        eta_text = "--" if eta != eta else f"{int(eta // 3600)}h{int(eta % 3600 // 60):02d}m{int(eta % 60):02d}s"
        filled = int(24 * min(done, self.total) / max(1, self.total))
        return (f"[{'#' * filled}{'.' * (24 - filled)}] {done}/{self.total} bench trials "
                f"({self.architectures} architectures x {self.passes} passes) | elapsed "
                f"{int(elapsed // 60)}m{int(elapsed % 60):02d}s | ETA {eta_text} | last #{trial.number} "
                f"{trial.state.name}")


BENCH_SHOWN = ("arch", "pareto", "val_acc_mean", "val_acc_std", "test_acc_mean", "latency_ms",
               "latency_pass_spread", "params", "macs", "complete")


def bench_table_text(table: pd.DataFrame, shown: pd.DataFrame) -> str:
    """A bench table's rows ``shown``, with what the columns mean."""
    with pd.option_context("display.max_colwidth", 200, "display.width", 250):
        text = shown[list(BENCH_SHOWN)].to_string(index=False, float_format=lambda v: f"{v:.4g}")
    done = table[table["complete"]]
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


def replay_summary(summary: pd.DataFrame, meta: dict[str, Any], exact_hv: float) -> str:
    """Hypervolume fraction per sampler and checkpoint, with the reference point."""
    ref = meta["reference_point"]
    lines = [f"Replay on the {meta['space']} / {meta['dataset']} table ({meta['complete']} "
             f"architectures, {meta['seeds']} seeds, {meta['passes']} latency passes)",
             f"Hypervolume reference point: val_acc {ref['val_acc']:g}, latency "
             f"{ref['latency_ms']:.4g} ms (1.1 x the slowest); exact front: {exact_hv:.4g} acc x ms",
             f"{'sampler':<8} {'archs':>6} {'HV fraction median':>19} {'IQR':>15} "
             f"{'simulated s':>12} {'epochs':>7} {'real ms/trial':>14}"]
    for r in summary.itertuples():
        lines.append(f"{r.sampler:<8} {r.architectures:>6} {r.hv_fraction_median:>19.4f} "
                     f"{r.hv_fraction_q25:>7.4f}-{r.hv_fraction_q75:<7.4f} {r.simulated_s_median:>12.1f} "
                     f"{r.epochs_median:>7.0f} {1e3 * r.real_s_per_trial:>14.1f}")
    lines.append(f"(median and interquartile range over {int(summary['repeats'].max())} repeats; "
                 f"simulated s: the table's training and measuring seconds of the architectures "
                 f"the search evaluated; epochs: epochs trained, medians)")
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
