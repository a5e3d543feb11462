"""Command-line interface: parses arguments, calls the library, prints tables or JSON.

Every expected failure reaches :func:`main` as a ``ValueError`` (or ``OSError``) naming the
problem and the fix, and is printed as one line, ``error: …``, with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any, Sequence

from nasbench import text
from nasbench.arguments import EXIT_USAGE, build_parser
from nasbench.rules import check_workers


class UsageError(ValueError):
    """A problem with the user's input: printed as one line, exit code 2."""


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _quiet_optuna(level: int = logging.WARNING) -> None:
    """Optuna logs at INFO by default (and configures that on first use): quieten it."""
    import optuna

    optuna.logging.set_verbosity(level)


def _slot() -> Any:
    """This process's handle on the machine's quiet measurement slot."""
    from nasbench.quiet import QuietSlot

    return QuietSlot()


# ------------------------------------------------------------------------------ commands

def cmd_spaces(args: argparse.Namespace) -> int:
    """List the search spaces with their exact sizes."""
    from search_spaces import SPACES, get_space

    rows = [{"space": name, "architectures": get_space(name).size(),
             "description": get_space(name).description} for name in SPACES]
    _print_json(rows) if args.json else print(text.spaces_table(rows))
    return 0


def cmd_blocks(args: argparse.Namespace) -> int:
    """Compare standard, depthwise-separable and inverted-residual blocks for one job."""
    import pandas as pd
    import torch

    from nasbench.formulas import separable_ratio
    from nasbench.profiling import LatencyOptions, block_configs, compare_blocks
    from nasbench.results import write_table

    devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    shape = (args.cin, args.cout, args.kernel, args.size, args.stride, args.expansion, args.se)
    options = _config(LatencyOptions, args)
    try:  # the spec's own checks name the bad value; the CLI adds which options to change
        block_configs(*shape)
    except ValueError as exc:
        raise UsageError(f"invalid block: {exc}; use --kernel 3/5/7, --stride 1/2, --expansion "
                         f"1-16, --se 0-1 and widths/size of at least 1") from None
    rows = compare_blocks(*shape, options, devices, slot=_slot(), memory_check=args.memory_check)
    ds_ratio = separable_ratio(args.cout, args.kernel)
    if args.csv:
        write_table(pd.DataFrame(rows), args.csv)
    _print_json({"rows": rows, "closed_form_ds_ratio": ds_ratio}) if args.json else print(
        text.blocks_report(rows, devices, *shape, ds_ratio=ds_ratio)
        + (f"\nCSV written to {args.csv}" if args.csv else ""))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    """Params, multiply-adds and latency of one architecture."""
    import dataclasses

    from nasbench.profiling import LatencyOptions, profile_arch
    from nasbench.references import load_arch

    arch = load_arch(args.arch)
    if args.resolution is not None:
        arch = dataclasses.replace(arch, resolution=args.resolution)
    report = profile_arch(arch, _config(LatencyOptions, args), module_depth=args.depth, slot=_slot(),
                          memory_check=args.memory_check)
    _print_json(report) if args.json else print(text.profile_report(report))
    return 0


class Live:
    """A progress line (``text.ProgressLine`` & co.) printed on stderr after each trial:
    rewritten in place on a terminal, one line per trial otherwise. ``read(study)`` reads what
    the line shows (the complete trials of a search, the complete count of a bench)."""

    tty = sys.stderr.isatty()

    def __init__(self, line: Any, read: Any) -> None:
        self.line, self.read = line, read

    def __call__(self, study: Any, trial: Any) -> None:
        rendered = self.line.render(self.read(study), trial)
        end, rendered = ("", "\r" + rendered[:150].ljust(150)) if self.tty else ("\n", rendered)
        print(rendered, end=end, file=sys.stderr, flush=True)


def _config(kind: Any, args: argparse.Namespace) -> Any:
    """A config dataclass from the options of the same names."""
    import dataclasses

    return kind(**{f.name: getattr(args, f.name) for f in dataclasses.fields(kind)
                   if hasattr(args, f.name)})


def _work(config: Any, workers: int, study: Any, finish: Any, progress: Live, alone: Any) -> Any:
    """Run a study's work here (``alone()``) or in ``workers`` processes; ``None`` after
    Ctrl-C, which leaves the study intact."""
    from nasbench.search import run_workers

    try:
        outcome = run_workers(config, workers, study, finish, progress) if workers > 1 else alone()
    except KeyboardInterrupt:
        print(f"\nInterrupted: the study is intact in {config.storage_url}; run the same command "
              f"again to resume.", file=sys.stderr)
        return None
    if progress.tty:
        print(file=sys.stderr)
    return outcome


def cmd_search(args: argparse.Namespace) -> int:
    """Run or resume a search until the budget of completed trials is reached."""
    from nasbench.confirm import check_options as check_confirm
    from nasbench.search import (SearchConfig, complete_trials, evaluated, expected_trial_seconds,
                                 finish_search, load_search_data, open_study, run_search, settled)

    _quiet_optuna(logging.ERROR)  # failed trials are shown by the progress line, not tracebacks
    config = _config(SearchConfig, args)
    check_workers(args.workers)
    check_confirm(args.confirm_rounds, args.confirm_seeds)
    data = load_search_data(config)
    study = open_study(config)
    config = settled(config, study)
    done = evaluated(study)
    print(text.search_header(config, done, args.workers), file=sys.stderr)
    if config.dataset != "digits" and done < config.budget:
        print(text.training_plan(config, data, expected_trial_seconds(config, data)), file=sys.stderr)
    progress = Live(text.ProgressLine(config.budget, done), complete_trials)
    outcome = _work(config, args.workers, study, lambda: finish_search(config), progress,
                    lambda: run_search(config, callbacks=[progress], data=data, slot=_slot()))
    if outcome is None:
        return 130
    from nasbench.confirm import ATTR

    fresh = evaluated(study) > done or ATTR not in study.user_attrs  # nothing new: keep the last
    if args.confirm and fresh and not outcome.table.empty and outcome.table["pareto"].any():
        outcome = _confirm(study, outcome.table, args.confirm_rounds, args.confirm_seeds, data,
                           lambda: finish_search(config)) or outcome
    where = (str(config.run_dir) if config.storage is None
             else f"{config.storage_url} --study {config.study_name}")
    _print_json(outcome.to_dict()) if args.json else print(text.search_summary(outcome, where))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Join an existing study, a search's or a bench's (this machine or another), and work
    until it is done."""
    from nasbench.bench import join_study
    from nasbench.search import complete_trials

    _quiet_optuna(logging.ERROR)
    try:
        join_study(args.storage, args.study, args.runs_dir, args.threads, args.worker_index,
                   slot=_slot(),
                   progress=None if args.quiet else lambda b, d: Live(text.ProgressLine(b, d), complete_trials))
    except KeyboardInterrupt:
        if not args.quiet:
            print("\nInterrupted: the study is intact; run the same command again to rejoin.",
                  file=sys.stderr)
        return 130
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Evaluate every architecture of a space (or a seeded sample): the tabular benchmark."""
    from nasbench.bench import BenchConfig, finish_bench, open_bench, run_bench
    from nasbench.search import load_search_data
    from nasbench.storage import count_states, finished

    _quiet_optuna(logging.ERROR)
    config = _config(BenchConfig, args)
    check_workers(args.workers)
    config.validate()
    data = load_search_data(config.search_config())
    study = open_bench(config, data)
    counts = count_states(study)
    progress = Live(text.BenchProgressLine(sum(counts.values()) - finished(counts) + counts.get("COMPLETE", 0),
                             counts.get("COMPLETE", 0), len(study.user_attrs["archs"]), config.passes),
                    lambda s: count_states(s).get("COMPLETE", 0))
    print(text.bench_header(config, progress.line, args.workers), file=sys.stderr)
    outcome = _work(config, args.workers, study, lambda: finish_bench(config), progress,
                    lambda: run_bench(config, callbacks=[progress], data=data, slot=_slot()))
    if outcome is None:
        return 130
    _print_json(outcome.to_dict()) if args.json else print(text.bench_summary(outcome))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay searches against a bench table: hypervolume fraction per sampler, in seconds."""
    from nasbench.replay import replay_table, runs_frame
    from nasbench.results import write_table

    constraints = {k: getattr(args, k) for k in ("max_latency_ms", "max_params", "max_macs")}
    report = replay_table(args.table, tuple(args.sampler), args.budget, args.repeats, args.seed,
                          constraints, args.pruner, epochs=args.epochs)
    if args.csv:
        write_table(runs_frame(report.runs), args.csv)
    _print_json(report.to_dict()) if args.json else print(
        text.replay_summary(report.summary, report.meta, report.exact_hypervolume, args.epochs)
        + (f"\nEvery repeat: {args.csv}" if args.csv else ""))
    return 0


def _open_run(args: argparse.Namespace) -> Any:
    from nasbench.results import open_run

    _quiet_optuna()
    return open_run(args.run, args.study, args.runs_dir)


def cmd_results(args: argparse.Namespace) -> int:
    """Print and export the table of a run or a bench."""
    from nasbench.bench import table_of
    from nasbench.results import write_table

    study = _open_run(args)
    frame, front, bench = table_of(study)
    shown = front if args.pareto else frame
    paths = [p for p in (args.csv, args.parquet) if p]
    for path in paths:
        write_table(shown, path)
    if args.json:
        print(shown.to_json(orient="records", date_format="iso", indent=2))
    elif shown.empty:
        print(f"Study {study.study_name!r} has no feasible completed trial: the front is empty."
              if args.pareto else f"Study {study.study_name!r} has no trials yet.")
    else:
        body = (text.bench_table_text(frame, shown) if bench
                else text.front_table(frame, study.user_attrs.get("n_val")) if args.pareto
                else text.results_table(frame, shown))
        print(body + "".join(f"\nwritten: {p}" for p in paths))
    return 0


def _cannot_write(out: Any, exc: OSError) -> UsageError:
    if isinstance(exc, FileExistsError):
        return UsageError(f"{out} already holds files; choose an empty --out, or add --force to "
                          f"replace the whole folder")
    return UsageError(f"cannot write to {out}: {exc.strerror or exc}; choose another --out")


def _confirm(study: Any, frame: Any, rounds: int, seeds: int, data: Any, finish: Any) -> Any:
    """Confirm ``study``'s front (printing what is measured), then ``finish()``; ``None`` after
    Ctrl-C, which leaves the study as it was."""
    from nasbench.confirm import candidates, confirm_study

    count = len(candidates(frame))
    print(f"Confirming {count} trial(s) (the front and those on it within noise): {rounds} "
          f"interleaved latency rounds" + (f", {seeds - 1} more training seed(s) each" if seeds > 1
                                            else ""), file=sys.stderr)
    try:
        confirmation = confirm_study(study, frame, rounds=rounds, seeds=seeds, data=data, slot=_slot())
    except KeyboardInterrupt:
        print("\nConfirmation interrupted: the study is unchanged; run python cli.py confirm "
              "RUN to confirm later.", file=sys.stderr)
        return None
    import dataclasses

    return dataclasses.replace(finish(), confirm_s=confirmation.seconds)


def cmd_confirm(args: argparse.Namespace) -> int:
    """Re-measure a search's front, interleaved, and store the confirmed figures."""
    from pathlib import Path

    from nasbench.confirm import check_options, study_config
    from nasbench.results import results_frame
    from nasbench.search import outcome_of

    check_options(args.confirm_rounds, args.confirm_seeds)  # before the run is even opened
    study = _open_run(args)
    study_config(study)  # a search's study, or a one-line error
    if "://" in args.run:
        storage, folder = args.run, Path(args.runs_dir) / study.study_name
    else:  # a run folder: its results.csv is rewritten there
        folder = Path(args.run) if Path(args.run).is_dir() else Path(args.runs_dir) / args.run
        storage = f"sqlite:///{folder / 'study.db'}"
    outcome = _confirm(study, results_frame(study), args.confirm_rounds, args.confirm_seeds, None,
                       lambda: outcome_of(study, storage, folder))
    if outcome is None:
        return 130
    if args.json:
        _print_json(outcome.to_dict())
    else:
        print(text.front_table(outcome.table, outcome.n_val) +
              f"\n\nConfirmed in {outcome.confirm_s:.1f} s. Results table: {outcome.results_csv}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export a trial of a run as a standalone module, spec and torch.export program."""
    from nasbench.export import export_trial

    study = _open_run(args)
    try:
        exported = export_trial(study, args.out, trial=args.trial, max_latency_ms=args.max_latency_ms,
                                pick=args.pick, onnx=args.onnx, overwrite=args.force)
    except OSError as exc:
        raise _cannot_write(args.out, exc) from None
    except ValueError as exc:
        raise UsageError(f"cannot export from {args.run}: {exc}") from None
    if args.json:
        _print_json({"trial": exported.info, "files": {k: str(v) for k, v in exported.files.items()}})
    else:
        print(text.export_summary(exported, args.out))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train an architecture in full on train + validation and report test accuracy."""
    from nasbench.train import train_to_export

    names = ("out", "dataset", "data_dir", "resolution", "epochs", "seed", "device", "threads",
             "runs_dir", "memory_check")
    try:
        done = train_to_export(args.arch, overwrite=args.force, **{n: getattr(args, n) for n in names},
                               on_start=lambda line: print(line, file=sys.stderr),
                               on_epoch=lambda e, acc: print(f"epoch {e + 1}: test accuracy {acc:.4f}",
                                                             file=sys.stderr))
    except OSError as exc:
        raise _cannot_write(args.out or "the export folder", exc) from None
    final, files = done.final, done.files
    if args.json:
        _print_json({"test_acc": final.test_accuracy, "files": {k: str(v) for k, v in files.items()}})
        return 0
    print(f"Test accuracy {final.test_accuracy:.4f} on {len(done.data.y_test)} held-out images "
          f"({final.result.train_time_s:.1f} s of training)\n\n{final.report}\nWeights: "
          f"{files['weights']} (load with torch.load(..., weights_only=True)); module: {files['model']}")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the Streamlit dashboard (the page shipped inside the package): this process
    becomes the Streamlit server, so Ctrl-C and signals reach it directly."""
    import importlib.util

    page = importlib.util.find_spec("nasbench.dashboard").origin  # found, not imported
    print(f"Dashboard on http://{args.address}:{args.port}/ (runs: {args.runs}); Ctrl-C stops it",
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", str(page),
                              "--server.address", args.address, "--server.port", str(args.port),
                              "--server.headless", "true", "--server.fileWatcherType", "none",
                              "--browser.gatherUsageStats", "false", "--", args.runs])
    return 0  # not reached


def cmd_latency_model(args: argparse.Namespace) -> int:
    """``latency-model fit|eval|predict``: a latency model of this machine."""
    from pathlib import Path

    from nasbench import latency_model as lm

    if args.action == "fit":
        from nasbench.data import load_dataset
        from nasbench.latency import check_options
        from search_spaces import SPACES, DataShape

        if args.space not in SPACES:
            raise UsageError(f"unknown space {args.space!r}; choose one of {', '.join(SPACES)}")
        check_options(args.device, args.threads, args.batch, args.dtype, args.memory_format)
        data = load_dataset(args.dataset, args.data_dir, args.resolution,
                            cache_dir=Path(args.runs_dir) / ".cache")
        shape = DataShape(data.resolution, data.channels, len(data.classes))
        out = Path(args.out or Path(args.runs_dir) / "latency-models"
                   / f"{args.space}-{args.dataset}-r{shape.resolution}.json")
        if out.suffix != ".json":
            raise UsageError(f"--out {out} must end in .json (the model is plain JSON)")
        settings = lm.MeasureSettings(args.device, args.threads, args.batch, args.dtype,
                                      args.memory_format)
        model = lm.fit_model(args.space, shape, settings, archs=args.archs, seed=args.seed,
                             slot=_slot(), on_progress=_steps("fit"))
        model.save(out)
        _print_json({"model": str(out), **model.fit}) if args.json else print(
            text.latency_model_fit(model, out))
        return 0
    if args.action == "predict" and args.level_archs != 0 and not lm.LEVEL_MIN <= args.level_archs <= 1000:
        raise UsageError(f"--level-archs must be 0 (no level) or between {lm.LEVEL_MIN} and 1000, "
                         f"got {args.level_archs}")
    model = lm.load_model(args.model)
    if args.action == "eval":
        result = lm.evaluate_model(model, model.settings(), archs=args.archs, seed=args.seed, slot=_slot(),
                                   on_progress=_steps("eval"))
        if args.csv:
            import pandas as pd

            from nasbench.results import write_table

            write_table(pd.DataFrame(result.rows), args.csv)
        _print_json(result.to_dict()) if args.json else print(text.latency_model_eval(result, model))
        return 0
    from nasbench.references import load_arch

    settings = model.settings()
    model.check_conditions(settings.conditions())
    archs = [load_arch(spec) for spec in args.arch]
    for arch in archs:
        model.sum_ms(arch)  # an unseen part is refused before anything is timed
    model.calibrate(settings, _slot())
    model.measure_level(settings, args.level_archs, _slot())
    rows = []
    for arch in archs:
        total, parts = model.sum_ms(arch)
        rows.append({"arch": arch.to_string(), "predicted_ms": model.predict(arch),
                     "host_speed_scale": model.scale, "level": model.level,
                     "level_archs": args.level_archs, "sum_of_parts_ms": model.scale * total,
                     "parts": [{"part": k, "ms": model.scale * v} for k, v in parts]})
    _print_json(rows) if args.json else print(text.latency_model_predict(rows, model))
    return 0


def _steps(what: str) -> Any:
    """A progress callback printing ``what: phase done/total`` on stderr now and then."""
    last = {"t": 0.0}

    def step(phase: str, done: int, total: int) -> None:
        import time

        now = time.monotonic()
        if done == total or now - last["t"] > 2:
            last["t"] = now
            print(f"{what}: {phase} {done}/{total}", file=sys.stderr, flush=True)
    return step


COMMANDS = {"spaces": cmd_spaces, "blocks": cmd_blocks, "profile": cmd_profile,
            "search": cmd_search, "worker": cmd_worker, "bench": cmd_bench, "replay": cmd_replay,
            "results": cmd_results, "confirm": cmd_confirm, "export": cmd_export, "train": cmd_train,
            "dashboard": cmd_dashboard, "latency-model": cmd_latency_model}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; bad input prints one line and returns 2.

    This is the process's entry point, so it applies the process-wide allocator tuning once
    (:func:`nasbench.env.tune_allocator`) before any latency is measured.
    """
    parser = build_parser(COMMANDS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from nasbench.env import tune_allocator

    tune_allocator()
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:  # library errors name the problem and the fix
        if args.verbose:
            logging.getLogger(__name__).exception("failed")
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
