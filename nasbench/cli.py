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
from pathlib import Path
from typing import Any, Sequence

from nasbench import text
from nasbench.arguments import EXIT_USAGE, build_parser

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


def _latency_options(args: argparse.Namespace) -> Any:
    from nasbench.profiling import LatencyOptions

    return LatencyOptions(device=args.device, threads=args.threads, batch=args.batch,
                          dtype=args.dtype, memory_format=args.memory_format,
                          min_time_s=args.min_time)


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
    from nasbench.profiling import compare_blocks
    from nasbench.results import write_table

    devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    shape = (args.cin, args.cout, args.kernel, args.size, args.stride, args.expansion, args.se)
    options = _latency_options(args)
    try:  # the spec's own checks name the bad value; the CLI adds which options to change
        rows = compare_blocks(*shape, options, devices, slot=_slot())
    except ValueError as exc:
        raise UsageError(f"invalid block: {exc}; use --kernel 3/5/7, --stride 1/2, --expansion "
                         f"1-16, --se 0-1 and widths/size of at least 1") from None
    ds_ratio = separable_ratio(args.cout, args.kernel)
    if args.csv:
        write_table(pd.DataFrame(rows), args.csv)
    if args.json:
        _print_json({"rows": rows, "closed_form_ds_ratio": ds_ratio})
        return 0
    print(text.blocks_report(rows, devices, *shape, ds_ratio=ds_ratio))
    if args.csv:
        print(f"CSV written to {args.csv}")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    """Params, multiply-adds and latency of one architecture."""
    import dataclasses

    from nasbench.profiling import profile_arch
    from nasbench.references import load_arch

    arch = load_arch(args.arch)
    if args.resolution is not None:
        arch = dataclasses.replace(arch, resolution=args.resolution)
    report = profile_arch(arch, _latency_options(args), module_depth=args.depth, slot=_slot())
    _print_json(report) if args.json else print(text.profile_report(report))
    return 0


class _Live:
    """Prints a rendered line on stderr: rewritten in place on a terminal, one per trial else."""

    tty = sys.stderr.isatty()

    def __call__(self, study: Any, trial: Any) -> None:
        line = self.render(study, trial)  # type: ignore[attr-defined]
        if self.tty:
            print("\r" + line[:150].ljust(150), end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


class BenchProgress(_Live, text.BenchProgressLine):
    """The bench's progress line on stderr."""


class Progress(_Live, text.ProgressLine):
    """The search's progress line on stderr."""


def _work(config: Any, workers: int, study: Any, finish: Any, progress: _Live, alone: Any) -> Any:
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
    from nasbench.search import (SearchConfig, evaluated, finish_search, load_search_data,
                                 open_study, run_search)

    _quiet_optuna(logging.ERROR)  # failed trials are shown by the progress line, not tracebacks
    names = ("space", "dataset", "data_dir", "resolution", "budget", "sampler", "seed", "device",
             "threads", "latency_threads", "epochs", "study", "storage", "runs_dir",
             "max_latency_ms", "max_params", "max_macs", "pruner")
    config = SearchConfig(**{n: getattr(args, n) for n in names},
                          max_train=args.max_train_samples, heartbeat_s=args.heartbeat)
    if not 1 <= args.workers <= 64:
        raise UsageError(f"--workers must be between 1 and 64, got {args.workers}")
    data = load_search_data(config)
    study = open_study(config)
    done = evaluated(study)
    print(f"Study {config.study_name!r} in {config.storage_url}: {done} of {config.budget} "
          f"architectures evaluated; space {config.space}, dataset {config.dataset}, sampler {config.sampler}, "
          f"seed {config.seed}, device {config.device}, {args.workers} worker(s)", file=sys.stderr)
    progress = Progress(config.budget, done)
    outcome = _work(config, args.workers, study, lambda: finish_search(config), progress,
                    lambda: run_search(config, callbacks=[progress], data=data, slot=_slot()))
    if outcome is None:
        return 130
    where = (str(config.run_dir) if config.storage is None
             else f"{config.storage_url} --study {config.study_name}")
    _print_json(outcome.to_dict()) if args.json else print(text.search_summary(outcome, where))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Join an existing study, a search's or a bench's (this machine or another), and work
    until it is done."""
    from nasbench.bench import KIND, bench_config_from_study, run_bench
    from nasbench.search import config_from_study, make_storage, run_search

    _quiet_optuna(logging.ERROR)
    config = config_from_study(args.storage, args.study, args.runs_dir, args.threads,
                               args.worker_index)  # checks the study exists and is ours
    study = optuna_study(args.study, make_storage(args.storage, config.heartbeat_s))
    callbacks = [] if args.quiet else [Progress(config.budget, 0)]
    try:
        if study.user_attrs.get("kind") == KIND:
            run_bench(bench_config_from_study(study, args.storage, args.runs_dir, args.threads,
                                              args.worker_index), slot=_slot())
        else:
            run_search(config, callbacks=callbacks, slot=_slot())
    except KeyboardInterrupt:
        if not args.quiet:
            print("\nInterrupted: the study is intact; run the same command again to rejoin.",
                  file=sys.stderr)
        return 130
    if not args.quiet:
        print("\nworker done", file=sys.stderr)
    return 0


def optuna_study(name: str, storage: Any) -> Any:
    """Load study ``name`` from ``storage`` (an Optuna storage object)."""
    import optuna

    return optuna.load_study(study_name=name, storage=storage)


def cmd_bench(args: argparse.Namespace) -> int:
    """Evaluate every architecture of a space (or a seeded sample): the tabular benchmark."""
    from nasbench.bench import BenchConfig, finish_bench, open_bench, run_bench
    from nasbench.search import load_search_data
    from nasbench.storage import count_states

    _quiet_optuna(logging.ERROR)
    names = ("space", "dataset", "data_dir", "resolution", "epochs", "seeds", "passes", "sample",
             "seed", "device", "threads", "latency_threads", "study", "storage", "runs_dir")
    config = BenchConfig(**{n: getattr(args, n) for n in names}, max_train=args.max_train_samples,
                         heartbeat_s=args.heartbeat)
    if not 1 <= args.workers <= 64:
        raise UsageError(f"--workers must be between 1 and 64, got {args.workers}")
    config.validate()
    data = load_search_data(config.search_config())
    study = open_bench(config, data)
    archs, counts = len(study.user_attrs["archs"]), count_states(study)
    total = sum(counts.values()) - counts.get("FAIL", 0) - counts.get("PRUNED", 0)
    progress = BenchProgress(total, counts.get("COMPLETE", 0), archs, config.passes)
    print(f"Bench {config.study_name!r} in {config.storage_url}: {counts.get('COMPLETE', 0)} of "
          f"{total} trials done ({archs} architectures of {config.space}, {config.seeds} seeds, "
          f"{config.passes} latency passes); {args.workers} worker(s)", file=sys.stderr)
    outcome = _work(config, args.workers, study, lambda: finish_bench(config), progress,
                    lambda: run_bench(config, callbacks=[progress], data=data, slot=_slot()))
    if outcome is None:
        return 130
    if args.json:
        _print_json({"study": outcome.study_name, "files": {k: str(v) for k, v in outcome.files.items()},
                     "front": outcome.table[outcome.table["pareto"]].to_dict(orient="records")})
        return 0
    front = outcome.table[outcome.table["pareto"]].sort_values("latency_ms")
    print(text.bench_table_text(outcome.table, front))
    print("\n" + "\n".join(f"{kind:<6} {path}" for kind, path in outcome.files.items()))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay searches against a bench table: hypervolume fraction per sampler, in seconds."""
    from nasbench.bench import load_bench
    from nasbench.replay import exact_front_hypervolume, feasible_under, replay, runs_frame, summarize
    from nasbench.results import write_table
    from nasbench.search import SearchConfig

    table, meta = load_bench(args.table)
    if not meta.get("whole_space"):
        raise UsageError(f"{args.table} holds a --sample of space {meta['space']!r}, not the whole "
                         f"space: replay needs every architecture (browse it with python cli.py "
                         f"results {args.table})")
    constraints = {k: getattr(args, k) for k in ("max_latency_ms", "max_params", "max_macs")
                   if getattr(args, k) is not None}
    if args.csv and not args.csv.endswith(".csv"):
        raise UsageError(f"--csv {args.csv}: give a file name ending in .csv")
    runs = replay(table, meta, tuple(args.sampler), args.budget, args.repeats, args.seed,
                  constraints, pruner=args.pruner)
    summary = summarize(runs)
    exact = exact_front_hypervolume(table, meta, feasible_under(SearchConfig(**constraints)))
    if args.csv:
        write_table(runs_frame(runs), args.csv)
    if args.json:
        _print_json({"table": str(args.table), "reference_point": meta["reference_point"],
                     "exact_front_hypervolume": exact, "summary": summary.to_dict(orient="records")})
        return 0
    print(text.replay_summary(summary, meta, exact) + (f"\nEvery repeat: {args.csv}" if args.csv else ""))
    return 0


def _open_run(args: argparse.Namespace) -> Any:
    from nasbench.results import open_run

    _quiet_optuna()
    return open_run(args.run, args.study, args.runs_dir)


def cmd_results(args: argparse.Namespace) -> int:
    """Print and export the results table of a run."""
    from nasbench.results import pareto_frame, results_frame, write_table

    from nasbench.bench import KIND, bench_table

    study = _open_run(args)
    bench = study.user_attrs.get("kind") == KIND
    frame = bench_table(study) if bench else results_frame(study)
    if bench:
        shown = frame[frame["pareto"]].sort_values("latency_ms") if args.pareto else frame
    else:
        shown = pareto_frame(frame) if args.pareto else frame
    paths = [p for p in (args.csv, args.parquet) if p]
    for path in paths:
        write_table(shown, path)
    if args.json:
        print(shown.to_json(orient="records", date_format="iso", indent=2))
    elif shown.empty:
        print(f"Study {study.study_name!r} has no feasible completed trial: the front is empty."
              if args.pareto else f"Study {study.study_name!r} has no trials yet.")
    else:
        body = text.bench_table_text(frame, shown) if bench else text.results_table(frame, shown)
        print(body + "".join(f"\nwritten: {p}" for p in paths))
    return 0


def _cannot_write(out: Any, exc: OSError) -> UsageError:
    if isinstance(exc, FileExistsError):
        return UsageError(f"{out} already holds files; choose an empty --out, or add --force to "
                          f"replace the whole folder")
    return UsageError(f"cannot write to {out}: {exc.strerror or exc}; choose another --out")


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
    from nasbench.data import load_dataset
    from nasbench.export import export_arch, read_export
    from nasbench.references import load_arch
    from nasbench.train import check_fits, default_train_config, train_final

    source = Path(args.arch)
    arch, info = read_export(source) if source.is_dir() else (load_arch(args.arch), {})
    out = Path(args.out or (source if source.is_dir() else Path(args.runs_dir) / "trained" / arch.digest()))
    dataset = args.dataset or info.get("dataset") or "digits"
    data_dir = args.data_dir or info.get("data_dir")
    data = load_dataset(dataset, data_dir, args.resolution, seed=args.seed,
                        cache_dir=Path(args.runs_dir) / ".cache")
    config = default_train_config(dataset, args.epochs)
    check_fits(arch, data)  # before saying anything: a mismatch is one line
    print(f"Training {arch.to_string()}\non {data.summary()} (train + val), {config.epochs} epochs, "
          f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size}, seed {args.seed}",
          file=sys.stderr)
    final = train_final(arch, data, config, seed=args.seed, device=args.device, threads=args.threads,
                        on_epoch=lambda e, acc: print(f"epoch {e + 1}/{config.epochs}: test accuracy "
                                                      f"{acc:.4f}", file=sys.stderr))
    info.update({"test_acc": final.test_accuracy, "trained_epochs": config.epochs,
                 "train_seed": args.seed, "train_time_s": final.result.train_time_s,
                 "dataset": dataset, "data_dir": data_dir,
                 "normalize_mean": list(data.mean), "normalize_std": list(data.std)})
    try:  # refreshing the export it came from replaces that folder as a whole
        written = export_arch(arch, out, info, state_dict=final.model.state_dict(),
                              overwrite=args.force or out == source)
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    if args.json:
        _print_json({"test_acc": final.test_accuracy, "files": {k: str(v) for k, v in written.items()}})
        return 0
    print(f"Test accuracy {final.test_accuracy:.4f} on {len(data.y_test)} held-out images "
          f"({final.result.train_time_s:.1f} s of training)\n\n{final.report}\nWeights: "
          f"{written['weights']} (load with torch.load(..., weights_only=True)); module: {written['model']}")
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


COMMANDS = {"spaces": cmd_spaces, "blocks": cmd_blocks, "profile": cmd_profile,
            "search": cmd_search, "worker": cmd_worker, "bench": cmd_bench, "replay": cmd_replay,
            "results": cmd_results,
            "export": cmd_export, "train": cmd_train, "dashboard": cmd_dashboard}


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
