"""Plain-text renderings for the terminal: pure functions from results to strings.

The CLI prints what these return; nothing here prints, reads storage or measures.
"""

from __future__ import annotations

import errno
import textwrap
import time
from typing import Any

import pandas as pd

from nasbench.record import TrialRecord
from nasbench.results import pareto_frame, pareto_mask
from nasbench.threads import describe as describe_threads
from nasbench.rules import bool_column, counted, flags, trial_eligible

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


def front_size(trials: list[Any]) -> int:
    """How many of the complete ``trials`` are on the search's Pareto front, as the results
    table draws it: among the eligible (:func:`nasbench.rules.trial_eligible`)."""
    ok = [trial_eligible(t) for t in trials]
    if not any(ok):
        return 0
    accuracy = [t.values[0] for t in trials]
    latency = [t.values[1] for t in trials]
    return int(pareto_mask(accuracy, latency, ok).sum())


class ProgressLine:
    """The search's progress line: trials done, elapsed, ETA, front size, the last trial."""

    RECENT = 8
    """Architectures whose pace sets the ETA: the host's load changes during a search, and the
    last few trials say how fast it goes now."""

    def __init__(self, budget: int, done: int, slot: Any = None) -> None:
        self.budget, self.start_done, self.slot = budget, done, slot
        self.started = time.monotonic()
        self._marks: list[tuple[int, float]] = [(done, self.started)]

    def eta(self, done: int, now: float) -> float:
        """Seconds left: the pace of the last :attr:`RECENT` architectures evaluated in this
        run (all of them before there are so many), times the architectures left; NaN before
        the first."""
        if done > self._marks[-1][0]:
            self._marks.append((done, now))
        first = next((m for m in self._marks if m[0] >= done - self.RECENT), self._marks[0])
        if first is self._marks[-1]:  # nothing evaluated in this run yet, or in the window
            first = self._marks[0]
        new = done - first[0]
        return (now - first[1]) / new * max(0, self.budget - done) if new > 0 else float("nan")

    def render(self, complete: list[Any], trial: Any) -> str:
        """The line after ``trial`` finished; ``complete``: the study's complete trials now."""
        records = [flags(t.user_attrs) for t in complete]
        done = sum(map(counted, records))  # what the budget counts
        fully = sum(counted(r) and not r.stopped_early for r in records)
        now = time.monotonic()
        elapsed = now - self.started
        eta = self.eta(done, now)
        front = front_size(complete)
        filled = int(24 * min(done, self.budget) / self.budget)
        record = TrialRecord.from_trial(trial)
        if trial.state.name == "COMPLETE":
            last = f"#{trial.number} acc {trial.values[0]:.3f} lat {trial.values[1]:.3f} ms"
            if record.reused_from is not None:
                last += f" (reused #{record.reused_from})"
            elif record.predicted_only:
                last = (f"#{trial.number} predicted {record.latency_predicted_ms:.3f} ms, over the "
                        f"limit: not trained")
            elif record.stopped_early:
                last += f" (stopped after epoch {len(record.val_acc_per_epoch)})"
        else:
            last = f"#{trial.number} {trial.state.name}: {(record.fail_reason or record.note or '')[:60]}"
        eta_text = "--" if eta != eta else f"{int(eta // 60)}m{int(eta % 60):02d}s"
        skipped = sum(bool(r.predicted_only) and r.reused_from is None for r in records)
        skipped_text = f", {skipped} predicted over the limit" if skipped else ""
        waited = (getattr(self.slot, "waited_s", 0.0)  # measurements, for others' training
                  + getattr(self.slot, "shared_waited_s", 0.0))  # training, for others' timing
        if waited >= 1.0:
            skipped_text += f" | waited {_duration(waited)} for other nasbench work"
            timeouts = getattr(self.slot, "timeouts", 0)
            if timeouts:
                skipped_text += f" ({timeouts} measurement(s) taken beside it after the longest wait)"
        return (f"[{'#' * filled}{'.' * (24 - filled)}] {done}/{self.budget} architectures, {fully} "
                f"trained fully{skipped_text} | elapsed "
                f"{int(elapsed // 60)}m{int(elapsed % 60):02d}s | ETA {eta_text} | front {front} | "
                f"{last}")


def search_header(config: Any, done: int, workers: int) -> str:
    """Where a search stands as it starts or resumes."""
    return (f"Study {config.study_name!r} in {config.storage_url}: {done} of {config.budget} "
            f"architectures evaluated; space {config.space}, dataset {config.dataset}, sampler "
            f"{config.sampler}, pruner {config.pruner}, seed {config.seed}, device "
            f"{config.device}, {workers} worker(s), "
            f"{describe_threads(config.threads, config.max_threads, workers)}")


def training_plan(config: Any, data: Any, trial_s: float) -> str:
    """What each trial trains on and how long it should take: printed before a search on a real
    dataset starts, so a long search is known to be long before it begins."""
    train = config.train_config()

    def images(n: int, total: int, split: str, flag: str) -> str:
        if n >= total:
            return f"all {n:,} {split} images"
        return f"{n:,} of {total:,} {split} images (stratified; {flag} all for every one)"

    return (f"Training on {images(len(data.y_train), data.train_total, 'training', '--max-train-samples')}"
            f", {train.epochs} epochs (--epochs) at batch {train.batch_size} (--train-batch), "
            f"validating on "
            f"{images(len(data.y_val), data.val_total, 'validation', '--max-val-samples')}. Expected "
            f"about {_duration(trial_s)} per architecture "
            f"trained fully (training steps of 7 architectures of the space, timed here); "
            f"{config.budget} architecture{'s' if config.budget != 1 else ''}: up to {_duration(trial_s * config.budget)}, less as "
            f"the early stop ends dominated trials.")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def front_table(frame: pd.DataFrame, n_val: int | None = None) -> str:
    """The Pareto front of a results table with the 95 % intervals of its figures, then the
    trials on the front within noise, and what the columns mean."""

    front = pareto_frame(frame)
    if front.empty:
        return "No feasible completed trial yet: the Pareto front is empty."
    noise = frame[frame["pareto_noise"].astype(bool) & ~frame["pareto"].astype(bool)]
    noise = noise.sort_values(["latency_ms", "val_acc"])
    header = (f"{'trial':>5}  {'val_acc':>7} {'[95% interval]':<16} {'latency_ms':>10} "
              f"{'[95% interval]':<18} {'confirmed':<9} {'params':>9}  {'MMACs':>7}  arch")

    def line(row: Any) -> str:
        acc_ci = _interval(row.val_acc_ci_low, row.val_acc_ci_high, "{:.3f}")
        lat_ci = _interval(row.latency_ci_low_ms, row.latency_ci_high_ms, "{:.3f}")
        return (f"{row.number:>5}  {row.val_acc:>7.4f} {acc_ci:<16} {row.latency_ms:>10.3f} "
                f"{lat_ci:<18} {'yes' if row.confirmed else 'no':<9} {int(row.params):>9,}  "
                f"{row.macs / 1e6:>7.2f}  {row.arch}")

    lines = [f"Pareto front ({len(front)} of {len(frame)} trials; validation accuracy up, latency "
             f"down), and {len(noise)} more on it within noise", header]
    lines += [line(row) for row in front.itertuples()]
    if len(noise):
        lines.append("On the front within noise (no trial dominates them beyond both intervals):")
        lines += [line(row) for row in noise.itertuples()]
    acc_note = (f"Wilson 95 % interval on {n_val} validation images" if n_val
                else "no interval: the study does not record its validation size")
    lines.append(f"val_acc: {acc_note} (mean over seeds where confirmed with several); latency_ms: "
                 f"median at batch 1 with the 95 % interval of the median (confirmed: over "
                 f"interleaved rounds); MMACs: millions of multiply-adds ({MACS_NOTE})")
    return "\n".join(lines)


def _interval(low: Any, high: Any, fmt: str) -> str:
    if low is None or high is None or low != low or high != high:
        return "[-]"
    return f"[{fmt.format(low)}, {fmt.format(high)}]"


def search_summary(outcome: Any, where: str) -> str:
    """The front, the trial counts, and where the study and table are."""
    confirmed = (f" Confirmed {int(outcome.table['confirmed'].sum())} trial(s) in "
                 f"{outcome.confirm_s:.1f} s." if outcome.confirm_s is not None else "")
    return (f"{front_table(outcome.table, outcome.n_val)}\n\n{outcome.complete} complete, "
            f"{outcome.failed} failed trials.{confirmed} "
            f"Study: {outcome.storage} (study {outcome.study_name!r})\n"
            f"Results table: {outcome.results_csv}   (python cli.py results {where})")


RESULTS_SHOWN = ("number", "state", "val_acc", "val_acc_ci_low", "val_acc_ci_high", "latency_ms",
                 "latency_ci_low_ms", "latency_ci_high_ms", "params", "macs", "feasible", "pareto",
                 "pareto_noise", "confirmed", "reused_from", "arch")
"""The columns of ``results --wide``."""
RESULTS_NARROW = ("number", "status", "val_acc", "latency_ms", "params", "macs", "front", "arch")
"""The columns of ``results`` by default: what fits a 120-column terminal."""
WIDTH = 120


def trial_status(frame: pd.DataFrame) -> pd.Series:
    """Each trial's status in words: ``trained`` (fully), ``stopped @k`` (early, after epoch k),
    ``reused #n`` (the figures of trial n, the same architecture), ``predicted`` (only, by the
    latency model), ``infeasible``, ``failed``, ``running``, ``pruned``."""
    def one(row: Any) -> str:
        state = str(row.get("state", ""))
        if state == "FAIL":
            return "failed"
        if state != "COMPLETE":
            return state.lower()
        if row.get("predicted_only") is True:
            return "predicted"
        reused = row.get("reused_from")
        if reused is not None and not pd.isna(reused):
            return f"reused #{int(reused)}"
        if row.get("stopped_early") is True:
            epochs = row.get("val_acc_per_epoch")
            return f"stopped @{len(epochs)}" if isinstance(epochs, (list, tuple)) and epochs else "stopped"
        return "trained" if row.get("feasible") is not False else "infeasible"
    return pd.Series([one(r) for r in frame.to_dict(orient="records")], index=frame.index, dtype=object)


def _fit_width(text_lines: list[str], width: int) -> list[str]:
    """Lines cut to ``width`` characters, a cut one ending in ``…``."""
    return [line if len(line) <= width else line[:width - 1] + "…" for line in text_lines]


def results_table(frame: pd.DataFrame, shown: pd.DataFrame, wide: bool = False,
                  columns: tuple[str, ...] | None = None) -> str:
    """The rows ``shown`` of a results table, with the conditions of its latencies: by default
    the most useful columns within :data:`WIDTH` characters (the architecture string cut),
    ``wide`` every column of :data:`RESULTS_SHOWN`, or the ``columns`` asked for."""
    table = shown.copy()
    table["status"] = trial_status(table)
    table["front"] = ["yes" if p else ("noise" if n else "") for p, n in
                      zip(bool_column(table["pareto"]),
                          bool_column(table.get("pareto_noise", pd.Series(False, index=table.index))))]
    if "confirmed" in table:
        table.loc[bool_column(table["confirmed"]), "front"] += "+conf"
    chosen = list(columns or (RESULTS_SHOWN + ("status",) if wide else RESULTS_NARROW))
    unknown = [c for c in chosen if c not in table.columns]
    if unknown:
        raise ValueError(f"--columns: no column {unknown[0]!r} in the results table; choose from "
                         f"{', '.join(c for c in table.columns if c != 'val_acc_per_epoch')}")
    with pd.option_context("display.max_colwidth", 400, "display.width", 10_000):
        body = table[chosen].to_string(index=False, float_format=lambda v: f"{v:.4g}").splitlines()
    lines = body if wide or columns else _fit_width(body, WIDTH)
    notes = []
    if not (wide or columns):
        notes.append("status: trained (fully), stopped @k (early, after epoch k), reused #n (trial "
                     "n's figures), predicted (by the latency model only); front: yes (Pareto), "
                     "noise (on it within noise), +conf (confirmed). --wide for every column.")
    first = frame.dropna(subset=["device_name"]).head(1)
    if not first.empty:
        r = first.iloc[0]
        notes.append(f"Latency: median ms of {r.get('clock') or 'wall'} time at batch {r['batch']} "
                     f"on {r['device_name']}, {r['threads']} thread(s), {r['dtype']}, "
                     f"{r['memory_format']}, torch {r['torch_version']}. macs: multiply-adds "
                     f"({MACS_NOTE}).")
        busy = int(frame["host_busy"].eq(True).sum()) if "host_busy" in frame else 0
        if busy:
            notes.append(f"{busy} figure(s) were taken while the host was busy (host_busy; see "
                         f"host_run_queue, host_wall_over_cpu in --csv).")
    wrapped = [textwrap.fill(n, WIDTH) for n in notes]
    return "\n".join(lines) + ("\n\n" + "\n".join(wrapped) if wrapped else "")


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


BENCH_SHOWN = ("arch", "pareto", "val_acc_mean", "val_acc_std", "test_acc_mean", "latency_ms",
               "latency_pass_spread", "params", "macs", "complete")


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
    the searches replayed trained that many, :func:`nasbench.replay.cut_to_epochs`)."""
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


def latency_model_fit(model: Any, path: Any) -> str:
    """What ``latency-model fit`` measured and how good the fit is."""
    f = model.fit
    c = model.conditions
    return "\n".join([
        f"Latency model of space {model.space} at input {model.shape[0]}x{model.shape[0]}x"
        f"{model.shape[1]}: {f['parts']} parts timed alone ({f['parts_s']:.0f} s), {f['archs']} "
        f"whole architectures timed to fit the correction; {f['seconds']:.0f} s in all",
        f"Conditions: {c['device_name']}, {c['threads']} thread(s), batch {c['batch']}, "
        f"{c['dtype']}, {c['memory_format']}, torch {c['torch_version']}",
        "Correction" + (f" ({f['correction'].replace('_', ' ')}, the closest held out by the median "
                        f"|log(predicted/measured)|; median |error| held out: "
                        + ", ".join(f"{k.replace('_', ' ')} {100 * v:.1f} %" for k, v in
                                    f["held_out_median_by_correction"].items()) + ")"
                        if f.get("correction") else "") + ": "
        + " + ".join(f"{v:.4g} x {k}" for k, v in model.coefficients.items() if v),
        f"Held-out error ({f['archs']} architectures, 5 folds): median {100 * f['cv_abs_rel_error_median']:.1f} %, "
        f"95th percentile {100 * f['cv_abs_rel_error_p95']:.1f} %, within ±10 %: "
        f"{100 * f['cv_within_10pct']:.0f} % (the plain sum of parts: median error "
        f"{100 * f['sum_only_abs_rel_error_median']:.0f} %)",
        *([f"Host speed: the reference architecture took {r['ms']:.3f} ms (median of "
           f"{r['timings']} timings, {r['min_ms']:.3f} to {r['max_ms']:.3f}); every time is stored "
           f"at that speed and predictions are scaled by the reference's time when used"]
          if (r := model.reference) else []),
        f"Written to {path}   (python cli.py latency-model eval {path})",
    ])


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
        f"Written to {folder}   (python cli.py results {folder}; python cli.py replay {folder})",
    ])


def latency_model_eval(result: Any, model: Any) -> str:
    """How well a latency model predicts fresh architectures, beside the measurement's ceiling."""
    from nasbench import latency_model as lm  # deferred: text must not load torch

    def row(label: str, within_10: float, error: float, spearman: float, within_5: str = "") -> str:
        return (f"{label:<36} {within_5:>12} {100 * within_10:>12.1f}% {100 * error:>14.1f}% "
                f"{spearman:>9.3f}")

    return "\n".join([
        f"{result.archs} architectures of {model.space} drawn with seed {result.seed} (not the "
        f"fit's), predicted, then measured interleaved in {result.rounds} rounds "
        f"({result.seconds:.0f} s); measured: the median of the even rounds",
        f"{'':<36} {'within ±5 %':>12} {'within ±10 %':>13} {'median |error|':>15} {'Spearman':>9}",
        row("prediction vs measured", result.within_10, result.median_abs_error, result.spearman,
            f"{100 * result.within_5:.1f}%"),
        row("  same, without the level", result.unleveled_within_10,
            result.unleveled_median_abs_error, result.unleveled_spearman),
        row("  same, at the fit's host speed", result.fixed_within_10,
            result.fixed_median_abs_error, result.fixed_spearman),
        row("odd rounds vs even (the ceiling)", result.repeat_within_10,
            result.repeat_median_abs_diff, result.repeat_spearman),
        row("prediction vs all rounds", result.truth_within_10, result.truth_median_abs_error,
            result.truth_spearman),
        "No predictor can agree with a measurement more often than the measurement agrees with "
        "itself: compare the first row with the ceiling.",
        f"Predictions are made as a search makes them: scaled by the reference architecture's "
        f"time in the same rounds, and by the level (the median ratio of measured to predicted) "
        f"of the last {lm.LEVEL_WINDOW} architectures before it, from the {lm.LEVEL_MIN + 1}th on; "
        f"the reference's bursts moved by {100 * result.host_drift:.0f} % during the eval (its "
        f"slowest over its fastest).",
    ])


def latency_model_predict(rows: list[dict[str, Any]], model: Any) -> str:
    """Predicted latency of each architecture with its parts."""
    out = ([f"Host speed now: x{model.scale:.3f} of the fit's (the reference architecture timed "
            f"just now); predictions and parts are at today's speed"] if model.reference else [])
    if rows and rows[0]["level_archs"]:
        out.append(f"Level: x{model.level:.3f} (the median of measured over predicted for "
                   f"{rows[0]['level_archs']} architectures of the space timed just now); "
                   f"predictions include it, parts do not")
    for row in rows:
        out.append(f"{row['arch']}\n  predicted {row['predicted_ms']:.3f} ms (median at batch "
                   f"{model.conditions['batch']}); sum of the parts timed alone "
                   f"{row['sum_of_parts_ms']:.3f} ms:")
        out += [f"    {p['ms']:>8.3f} ms  {p['part']}" for p in row["parts"]]
    return "\n".join(out)


def train_summary(done: Any) -> str:
    """What a full training (:class:`nasbench.export.TrainedExport`) reached and where it is."""
    final, files = done.final, done.files
    return (f"Test accuracy {final.test_accuracy:.4f} on {len(done.data.y_test)} held-out images "
            f"({final.result.train_time_s:.1f} s of training)\n\n{final.report}\nWeights: "
            f"{files['weights']} (load with torch.load(..., weights_only=True)); module: {files['model']}")


def error_line(exc: BaseException) -> str:
    """The one line that says what went wrong: a library error's own message (it names the
    fix); an operating system's error with its path and what to do."""
    if isinstance(exc, OSError) and exc.filename is not None:
        name = str(exc.filename)
        shown = name if len(name) <= 80 else name[:77] + "…"
        if exc.errno == errno.ENAMETOOLONG:
            return f"the path {shown} has a name too long for the file system; choose a shorter one"
        return f"cannot use {shown}: {exc.strerror}; check the path and its permissions"
    message = str(exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


def profile_many_table(done: Any) -> str:
    """``profile --from``: each architecture's interleaved median with its interval."""
    cond = done.conditions
    lines = [f"{len(done.rows)} architectures, {done.rounds} interleaved rounds, {done.seconds:.1f} s; "
             f"{cond.get('clock')} time, {cond.get('device_name')}, {cond.get('threads')} thread(s), "
             f"batch {cond.get('batch')}, {cond.get('dtype')}",
             f"{'latency ms':>11} {'95 % interval':>19} {'wall ms':>9}  architecture"]
    for row in sorted(done.rows, key=lambda r: r["latency_ms"]):
        lines.append(f"{row['latency_ms']:>11.4f} {row['latency_ci_low_ms']:>9.4f}-"
                     f"{row['latency_ci_high_ms']:<9.4f} {row['latency_wall_ms']:>9.4f}  {row['arch']}")
    if done.host.get("busy"):
        lines.append("The host was busy while measuring (host_busy): see the host figures in --json.")
    return "\n".join(lines)
