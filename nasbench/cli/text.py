"""Plain-text renderings for the terminal: pure functions from results to strings.

The CLI prints what these return; nothing here prints, reads storage or measures.
"""

from __future__ import annotations

import errno
import shlex
import textwrap
import time
from typing import Any

import pandas as pd

from nasbench.study.trial_record import TrialRecord
from nasbench.study.results import pareto_frame, pareto_mask
from nasbench.train.threads import describe as describe_threads
from nasbench.study.rules import bool_column, counted, flags, trial_eligible

MACS_NOTE = "fvcore flops, 1 multiply-add = 1 flop"


def front_size(trials: list[Any]) -> int:
    """How many of the complete ``trials`` are on the search's Pareto front, as the results
    table draws it: among the eligible (:func:`nasbench.study.rules.trial_eligible`)."""
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
    lines.append(f"Train it in full: python cli.py train {shlex.quote(str(out))} --epochs 30")
    return "\n".join(lines)


BENCH_SHOWN = ("arch", "pareto", "val_acc_mean", "val_acc_std", "test_acc_mean", "latency_ms",
               "latency_pass_spread", "params", "macs", "complete")


def train_summary(done: Any) -> str:
    """What a full training (:class:`nasbench.workflows.export.TrainedExport`) reached and where it is."""
    final, files = done.final, done.files
    return (f"Test accuracy {final.test_accuracy:.4f} on {len(done.data.y_test)} held-out images "
            f"({final.result.train_time_s:.1f} s of training)\n\n{final.report}\nWeights: "
            f"{files['weights']} (load with torch.load(..., weights_only=True)); module: {files['model']}")


ERROR_CHARS = 600
"""The longest error line: a message that quotes its input (a line of a file, a token) shows
an excerpt of it, never all of it."""


def error_line(exc: BaseException) -> str:
    """The one line that says what went wrong: a library error's own message (it names the
    fix); an operating system's error with its path and what to do. At most
    :data:`ERROR_CHARS` characters: a longer one keeps its start and its end (where the fix
    is) around an ellipsis that says how much was left out."""
    line = _error_line(exc)
    if len(line) <= ERROR_CHARS:
        return line
    keep = ERROR_CHARS // 2 - 30
    return f"{line[:keep]} … ({len(line) - 2 * keep:,} characters left out) … {line[-keep:]}"


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        name = str(exc.filename)
        shown = name if len(name) <= 80 else name[:77] + "…"
        if exc.errno == errno.ENAMETOOLONG:
            return f"the path {shown} has a name too long for the file system; choose a shorter one"
        return f"cannot use {shown}: {exc.strerror}; check the path and its permissions"
    message = str(exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


