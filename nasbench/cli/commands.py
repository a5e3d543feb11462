"""Command-line interface: parses arguments, calls one library function per command, prints
tables or JSON.

Every expected failure reaches :func:`main` as a ``ValueError`` (or ``OSError``) naming the
problem and the fix, and is printed as one line, ``error: …``, with exit code 2.

The library is imported inside each command, on purpose (see :data:`DEFERRED_IMPORTS`).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shlex
import sys
from typing import Any, Sequence

from nasbench.cli.arguments import EXIT_USAGE, build_parser, options_of as _config
from nasbench.files import check_output_file
from nasbench.cli.console import (Deferred, Live, confirming, interruptible, print_json, quiet_optuna,
                              slot, steps, work)
from nasbench.measure.conditions import check_workers

DEFERRED_IMPORTS = ("every command imports the library it calls inside itself: --help and the "
                    "commands that only read a table must not pay for importing torch")
text = Deferred("nasbench.cli.text")  # deferred: what commands print with loads pandas and Optuna
reports = Deferred("nasbench.cli.reports")  # deferred: as text
bench_text = Deferred("nasbench.cli.bench_text")  # deferred: as text


class UsageError(ValueError):
    """A problem with the user's input: printed as one line, exit code 2."""


# ------------------------------------------------------------------------------ commands

def cmd_spaces(args: argparse.Namespace) -> int:
    """List the search spaces with their exact sizes."""
    from search_spaces import SPACES, get_space

    rows = [{"space": name, "architectures": get_space(name).size(),
             "description": get_space(name).description} for name in SPACES]
    print_json(rows) if args.json else print(reports.spaces_table(rows))
    return 0


def cmd_blocks(args: argparse.Namespace) -> int:
    """Compare standard, depthwise-separable and inverted-residual blocks for one job."""
    import pandas as pd

    from nasbench.measure.profiling import LatencyOptions, blocks_job
    from nasbench.study.results import write_table

    shape = (args.cin, args.cout, args.kernel, args.size, args.stride, args.expansion, args.se)
    rows, devices, ds_ratio = blocks_job(shape, _config(LatencyOptions, args), slot(),
                                         args.memory_check)
    if args.csv:
        write_table(pd.DataFrame(rows), args.csv)
    print_json({"rows": rows, "closed_form_ds_ratio": ds_ratio}) if args.json else print(
        reports.blocks_report(rows, devices, *shape, ds_ratio=ds_ratio)
        + (f"\nCSV written to {args.csv}" if args.csv else ""))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    """Params, multiply-adds and latency of one architecture, or of many measured interleaved
    (``--from``)."""
    from nasbench.workflows.profile_many import profile_file
    from nasbench.measure.profiling import LatencyOptions, profile_spec

    if (args.arch is None) == (args.source is None):
        raise UsageError("give one architecture, or --from FILE to measure many interleaved")
    options = _config(LatencyOptions, args)
    if args.source is not None:
        done = profile_file(args.source, options, args.rounds, slot(), args.memory_check,
                            steps("profile"), args.runs_dir)
        print_json(done.to_list()) if args.json else print(reports.profile_many_table(done))
        return 0
    report = profile_spec(args.arch, options, args.resolution, args.depth, slot(), args.memory_check)
    print_json(report) if args.json else print(reports.profile_report(report))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Run or resume a search until the budget of completed trials is reached."""
    from nasbench.workflows.confirm import check_options as check_confirm, confirm_after_search
    from nasbench.workflows.search import (SearchConfig, complete_trials, expected_trial_seconds,
                                 finish_search, run_search, start_search)

    quiet_optuna(logging.ERROR)  # failed trials are shown by the progress line, not tracebacks
    check_workers(args.workers)
    check_confirm(args.confirm_rounds, args.confirm_seeds, args.accuracy_from)
    config, data, study, done = start_search(_config(SearchConfig, args), steps("data"))
    print(text.search_header(config, done, args.workers), file=sys.stderr)
    if config.dataset != "digits" and done < config.budget and not config.accuracy_from:
        print(text.training_plan(config, data, expected_trial_seconds(config, data)), file=sys.stderr)
    progress = Live(text.ProgressLine(config.budget, done, quiet := slot()), complete_trials)
    outcome = work(config, args.workers, study, lambda: finish_search(config), progress,
                   lambda: run_search(config, callbacks=[progress], data=data, slot=quiet))
    if outcome is None:
        return 130
    if args.confirm:
        outcome = interruptible(lambda: confirm_after_search(
            study, outcome, done, args.confirm_rounds, args.confirm_seeds, data,
            lambda: finish_search(config), slot(), confirming(args.confirm_rounds, args.confirm_seeds))) or outcome
    where = (shlex.quote(str(config.run_dir)) if config.storage is None
             else f"{shlex.quote(config.storage_url)} --study {shlex.quote(config.study_name)}")
    print_json(outcome.to_dict()) if args.json else print(text.search_summary(outcome, where))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Join an existing study, a search's or a bench's (this machine or another), and work
    until it is done."""
    from nasbench.workflows.search import complete_trials
    from nasbench.workflows.workers import join_study

    quiet_optuna(logging.ERROR)
    try:
        join_study(args.storage, args.study, args.runs_dir, args.threads, args.worker_index,
                   slot=slot(), max_threads=args.max_threads, progress=None if args.quiet
                   else lambda b, d: Live(text.ProgressLine(b, d), complete_trials))
    except KeyboardInterrupt:
        if not args.quiet:
            print("\nInterrupted: the study is intact; run the same command again to rejoin.",
                  file=sys.stderr)
        return 130
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Evaluate every architecture of a space (or a seeded sample): the tabular benchmark."""
    from nasbench.workflows.bench_run import finish_bench, run_bench, start_bench
    from nasbench.workflows.settings import BenchConfig
    from nasbench.study.storage import count_states, finished
    from nasbench.study.study_record import StudyRecord

    quiet_optuna(logging.ERROR)
    check_workers(args.workers)
    config = _config(BenchConfig, args)
    data, study, counts = start_bench(config)
    line = bench_text.BenchProgressLine(sum(counts.values()) - finished(counts) + counts.get("COMPLETE", 0),
                                  counts.get("COMPLETE", 0), len(StudyRecord.of(study).archs or ()),
                                  config.passes)
    progress = Live(line, lambda s: count_states(s).get("COMPLETE", 0))
    print(bench_text.bench_header(config, line, args.workers), file=sys.stderr)
    outcome = work(config, args.workers, study, lambda: finish_bench(config), progress,
                    lambda: run_bench(config, callbacks=[progress], data=data, slot=slot()))
    if outcome is None:
        return 130
    print_json(outcome.to_dict()) if args.json else print(bench_text.bench_summary(outcome))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay searches against a bench table: hypervolume fraction per sampler, in seconds."""
    from nasbench.workflows.replay import replay_table, runs_frame
    from nasbench.study.results import write_table

    constraints = {k: getattr(args, k) for k in ("max_latency_ms", "max_params", "max_macs")}
    report = replay_table(args.table, tuple(args.sampler), args.budget, args.repeats, args.seed,
                          constraints, args.pruner, epochs=args.epochs)
    if args.csv:
        write_table(runs_frame(report.runs), args.csv)
    print_json(report.to_dict()) if args.json else print(
        bench_text.replay_summary(report.summary, report.meta, report.exact_hypervolume, args.epochs)
        + (f"\nEvery repeat: {args.csv}" if args.csv else ""))
    return 0


def _open_run(args: argparse.Namespace) -> Any:
    from nasbench.study.storage import open_run

    quiet_optuna()
    return open_run(args.run, args.study, args.runs_dir)


def cmd_results(args: argparse.Namespace) -> int:
    """Print and export the table of a run, a bench or an imported table."""
    from nasbench.bench.table import open_table
    from nasbench.study.results import write_table

    quiet_optuna()
    done = open_table(args.run, args.study, args.runs_dir)
    frame, front, bench = done.frame, done.front, done.bench
    shown = front if args.pareto else frame
    paths = [p for p in (args.csv, args.parquet) if p]
    body = (shown.to_json(orient="records", date_format="iso", indent=2) if args.json
            else f"Study {done.name!r} has no feasible completed trial: the front is empty."
            if shown.empty and args.pareto else f"Study {done.name!r} has no trials yet."
            if shown.empty else bench_text.bench_table_text(frame, shown) if bench
            else text.front_table(frame, done.n_val) if args.pareto
            else text.results_table(frame, shown, args.wide, args.columns))  # before any file
    for path in paths:
        write_table(shown, path)
    print(body + ("" if args.json else "".join(f"\nwritten: {p}" for p in paths)))
    return 0


def _cannot_write(out: Any, exc: OSError) -> UsageError:
    return UsageError(f"cannot write to {out}: {exc.strerror or exc}; choose another --out")


def cmd_confirm(args: argparse.Namespace) -> int:
    """Re-measure a search's front, interleaved, and store the confirmed figures."""
    from nasbench.workflows.confirm import confirm_run

    quiet_optuna()
    outcome = interruptible(lambda: confirm_run(args.run, args.study, args.runs_dir,
                                                 args.confirm_rounds, args.confirm_seeds, slot(),
                                                 confirming(args.confirm_rounds, args.confirm_seeds)))
    if outcome is None:
        return 130
    if args.json:
        print_json(outcome.to_dict())
    else:
        print(text.front_table(outcome.table, outcome.n_val) +
              f"\n\nConfirmed in {outcome.confirm_s:.1f} s. Results table: {outcome.results_csv}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export a trial of a run as a standalone module, spec and torch.export program."""
    from nasbench.workflows.export import export_trial
    from nasbench.files import OutputRefused

    study = _open_run(args)
    try:
        exported = export_trial(study, args.out, trial=args.trial, max_latency_ms=args.max_latency_ms,
                                pick=args.pick, onnx=args.onnx, overwrite=args.force)
    except OSError as exc:
        raise _cannot_write(args.out, exc) from None
    except OutputRefused:
        raise
    except ValueError as exc:
        raise UsageError(f"cannot export from {args.run}: {exc}") from None
    if args.json:
        print_json({"trial": exported.info, "files": {k: str(v) for k, v in exported.files.items()}})
    else:
        print(text.export_summary(exported, args.out))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train an architecture in full on train + validation and report test accuracy."""
    from nasbench.workflows.export import train_to_export

    names = ("out", "dataset", "data_dir", "resolution", "epochs", "seed", "device", "threads",
             "runs_dir", "memory_check")
    try:
        done = train_to_export(args.arch, overwrite=args.force, **{n: getattr(args, n) for n in names},
                               on_start=lambda line: print(line, file=sys.stderr),
                               on_epoch=lambda e, acc: print(f"epoch {e + 1}: test accuracy {acc:.4f}",
                                                             file=sys.stderr))
    except OSError as exc:
        raise _cannot_write(args.out or "the export folder", exc) from None
    print_json({"test_acc": done.final.test_accuracy, "files": {k: str(v) for k, v in done.files.items()}}
               ) if args.json else print(text.train_summary(done))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the Streamlit dashboard (the page shipped inside the package): this process
    becomes the Streamlit server, so Ctrl-C and signals reach it directly."""
    page = importlib.util.find_spec("nasbench.dashboard.page").origin  # found, not imported
    print(f"Dashboard on http://{args.address}:{args.port}/ (runs: {args.runs}); Ctrl-C stops it",
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", str(page),
                              "--server.address", args.address, "--server.port", str(args.port),
                              "--server.headless", "true", "--server.fileWatcherType", "none",
                              "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
                              "--", args.runs])
    return 0  # not reached


def cmd_latency_model(args: argparse.Namespace) -> int:
    """``latency-model fit|eval|predict``: a latency model of this machine."""
    from nasbench import latency_model as lm

    if args.action == "fit":
        settings = lm.MeasureSettings(args.device, args.threads, args.batch, args.dtype,
                                      args.memory_format, clock=args.clock)
        model, out = lm.fit_to_file(args.space, args.dataset, args.data_dir, args.resolution,
                                    settings, args.out, args.runs_dir, archs=args.archs,
                                    seed=args.seed, slot=slot(), on_progress=steps("fit"))
        print_json({"model": str(out), **model.fit}) if args.json else print(
            reports.latency_model_fit(model, out))
        return 0
    if args.action == "predict":
        model, rows = lm.predict_archs(args.model, args.arch, args.level_archs, slot())
        print_json(rows) if args.json else print(reports.latency_model_predict(rows, model))
        return 0
    model = lm.load_model(args.model)
    result = lm.evaluate_model(model, model.settings(), archs=args.archs, seed=args.seed,
                               rounds=args.rounds, slot=slot(), on_progress=steps("eval"))
    if args.csv:
        import pandas as pd

        from nasbench.study.results import write_table

        write_table(pd.DataFrame(result.rows), args.csv)
    print_json(result.to_dict()) if args.json else print(reports.latency_model_eval(result, model))
    return 0


def cmd_bench_import(args: argparse.Namespace) -> int:
    """A published benchmark's figures as a bench table (NAS-Bench-201)."""
    from nasbench.bench.nb201 import import_nb201

    done = import_nb201(args.latency, args.index, args.dataset, args.study, args.runs_dir,
                        args.force, on_step=steps("bench-import"))
    print(bench_text.imported_table(done.folder, done.table, done.meta))
    return 0


COMMANDS = {"spaces": cmd_spaces, "bench-import": cmd_bench_import, "blocks": cmd_blocks, "profile": cmd_profile,
            "search": cmd_search, "worker": cmd_worker, "bench": cmd_bench, "replay": cmd_replay,
            "results": cmd_results, "confirm": cmd_confirm, "export": cmd_export, "train": cmd_train,
            "dashboard": cmd_dashboard, "latency-model": cmd_latency_model}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; bad input prints one line and returns 2.

    This is the process's entry point, so it applies the process-wide allocator tuning once
    (:func:`nasbench.measure.conditions.tune_allocator`) before any latency is measured.
    """
    parser = build_parser(COMMANDS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from nasbench.measure.conditions import tune_allocator

    tune_allocator()
    try:
        for option, suffixes in (("csv", (".csv", ".parquet")), ("parquet", (".parquet",))):
            if getattr(args, option, None):  # every output file: checked before any work
                check_output_file(getattr(args, option), f"--{option}", suffixes)
        return args.func(args)
    except (ValueError, OSError) as exc:  # library errors name the problem and the fix
        if args.verbose:
            logging.getLogger(__name__).exception("failed")
        print(f"error: {text.error_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
