"""Command-line interface: parses arguments, calls the library, prints tables or JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

EXIT_USAGE = 2


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_latency_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=_positive_int, default=1,
                        help="CPU threads for timing (default 1)")
    parser.add_argument("--batch", type=_positive_int, default=1, help="batch size (default 1)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--memory-format", default="contiguous",
                        choices=("contiguous", "channels_last"))
    parser.add_argument("--min-time", type=float, default=1.0,
                        help="seconds of timing per model after warm-up (default 1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _latency_options(args: argparse.Namespace) -> Any:
    from nasbench.profiling import LatencyOptions

    if not 0.05 <= args.min_time <= 600:
        raise UsageError(f"--min-time must be between 0.05 and 600 seconds, got {args.min_time}")
    return LatencyOptions(device=args.device, threads=args.threads, batch=args.batch,
                          dtype=args.dtype, memory_format=args.memory_format,
                          min_time_s=args.min_time)


def _quiet_optuna(level: int = logging.WARNING) -> None:
    """Optuna logs at INFO by default (and configures that on first use): quieten it."""
    import optuna

    optuna.logging.set_verbosity(level)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


# ------------------------------------------------------------------------------------- spaces

def cmd_spaces(args: argparse.Namespace) -> int:
    """List the search spaces with their exact sizes."""
    from search_spaces import SPACES, get_space

    rows = []
    for name in SPACES:
        space = get_space(name)
        rows.append({"space": name, "architectures": space.size(), "description": space.description})
    if args.json:
        _print_json(rows)
        return 0
    width = max(len(r["space"]) for r in rows)
    size_width = max(len(f"{r['architectures']:,}") for r in rows)
    print(f"{'space':<{width}}  {'architectures':>{size_width}}  description")
    for r in rows:
        print(f"{r['space']:<{width}}  {r['architectures']:>{size_width},}  {r['description']}")
    return 0


# ------------------------------------------------------------------------------------- blocks

def cmd_blocks(args: argparse.Namespace) -> int:
    """Compare standard, depthwise-separable and inverted-residual blocks for one job."""
    import pandas as pd

    from nasbench.formulas import separable_ratio
    from nasbench.profiling import compare_blocks

    import torch

    for name in ("cin", "cout", "size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be at least 1")
    if args.kernel not in (3, 5, 7) or args.stride not in (1, 2):
        raise UsageError("--kernel must be 3, 5 or 7 and --stride 1 or 2")
    if not 1 <= args.expansion <= 16:
        raise UsageError(f"--expansion must be between 1 and 16, got {args.expansion}")
    options = _latency_options(args)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    rows = compare_blocks(args.cin, args.cout, args.kernel, args.size, args.stride,
                          args.expansion, args.se, options, devices)
    ds_ratio = separable_ratio(args.cout, args.kernel)
    frame = pd.DataFrame(rows)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    if args.json:
        _print_json({"rows": rows, "closed_form_ds_ratio": ds_ratio})
        return 0
    shown = ["block", "params", "params_formula", "macs", "macs_formula"]
    for device in devices:
        shown += [f"{device}_ms", f"{device}_iqr_ms"]
    shown += ["params_ratio", "macs_ratio"] + [f"{d}_ratio" for d in devices]
    print(f"Blocks {args.cin}->{args.cout} channels, {args.kernel}x{args.kernel} kernel, "
          f"{args.size}x{args.size} input, stride {args.stride}, expansion {args.expansion:g}"
          + (f", SE {args.se:g}" if args.se else ""))
    print(frame[shown].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nClosed-form depthwise-separable / standard ratio 1/C_out + 1/K^2 = "
          f"1/{args.cout} + 1/{args.kernel ** 2} = {ds_ratio:.4f} "
          f"(measured MACs ratio {rows[1]['macs_ratio']:.4f}; params include BatchNorm)")
    print("MACs: multiply-adds of convs and linear layers (fvcore; 1 multiply-add = 1 flop). "
          "Latency: median ms and IQR over repeated runs.")
    for device in devices:
        print(f"{device}: {rows[0][f'{device}_conditions']}")
    if args.csv:
        print(f"CSV written to {args.csv}")
    return 0


# ------------------------------------------------------------------------------------ profile

def load_arch(text: str) -> Any:
    """An architecture from a reference name, a spec string or a JSON file."""
    from nasbench.arch import decode, from_json
    from nasbench.references import REFERENCES, reference

    if text in REFERENCES:
        return reference(text)
    if text.endswith(".json") or (os.sep in text and ":" not in text):
        path = Path(text)
        if not path.is_file():
            raise UsageError(f"architecture file {text} not found; give a reference name "
                             f"({', '.join(REFERENCES)}), a spec string or a JSON file")
        try:
            return from_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise UsageError(f"bad architecture file {text}: {exc}") from None
    if ":" not in text:
        raise UsageError(f"unknown architecture {text!r}; give a reference name "
                         f"({', '.join(REFERENCES)}), a spec string or a JSON file")
    try:
        return decode(text)
    except ValueError as exc:
        raise UsageError(f"bad architecture string: {exc}") from None


def cmd_profile(args: argparse.Namespace) -> int:
    """Params, multiply-adds and latency of one architecture."""
    from nasbench.profiling import profile_arch

    arch = load_arch(args.arch)
    if args.resolution is not None:
        arch = dataclasses.replace(arch, resolution=args.resolution)
    options = _latency_options(args)
    try:
        report = profile_arch(arch, options, module_depth=args.depth)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _print_json(report)
        return 0
    lat = report["latency"]
    print(f"Architecture  {report['arch']}")
    print(f"Resolution    {report['resolution']}x{report['resolution']}")
    print(f"Params        {report['params']:,}")
    print(f"MACs          {report['macs']:,}  ({report['macs'] / 1e6:.2f} M multiply-adds; "
          f"fvcore flops, 1 multiply-add = 1 flop, convs and linear layers only)")
    if report["unsupported_ops"]:
        print(f"Not counted   {report['unsupported_ops']}")
    print(f"Latency       median {lat['median_ms']:.3f} ms, p90 {lat['p90_ms']:.3f} ms, "
          f"IQR {lat['iqr_ms']:.3f} ms, CV {lat['cv'] * 100:.1f}%, {lat['samples']} samples "
          f"of {lat['runs_per_sample']} run(s), batch {lat['conditions']['batch']}")
    cond = lat["conditions"]
    print(f"Conditions    {cond['device_name']}; {cond['threads']} thread(s); {cond['dtype']}; "
          f"{cond['memory_format']}; torch {cond['torch_version']}; {cond['allocator']}")
    print("\nMACs by module")
    total = report["macs"] or 1
    for name, macs in report["macs_by_module"].items():
        label = name or "(total)"
        print(f"  {label:<28} {macs:>14,}  {100 * macs / total:5.1f}%")
    return 0


# ------------------------------------------------------------------------------------- search

class Progress:
    """A one-line progress bar on stderr: trials done, ETA, front size, last trial."""

    def __init__(self, budget: int, done: int) -> None:
        import time

        self.budget, self.start_done = budget, done
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def __call__(self, study: Any, trial: Any) -> None:
        import time

        from optuna.trial import TrialState

        done = sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
        new = max(0, done - self.start_done)
        elapsed = time.monotonic() - self.started
        eta = elapsed / new * max(0, self.budget - done) if new else float("nan")
        front = len(study.best_trials) if done else 0
        width = 24
        filled = int(width * min(done, self.budget) / self.budget)
        bar = "#" * filled + "." * (width - filled)
        if trial.state == TrialState.COMPLETE:
            last = f"#{trial.number} acc {trial.values[0]:.3f} lat {trial.values[1]:.3f} ms"
            if trial.user_attrs.get("reused_from") is not None:
                last += f" (reused #{trial.user_attrs['reused_from']})"
        else:
            last = f"#{trial.number} {trial.state.name}: {trial.user_attrs.get('fail_reason', '')[:60]}"
        eta_text = "--" if eta != eta else f"{int(eta // 60)}m{int(eta % 60):02d}s"
        line = (f"[{bar}] {done}/{self.budget} trials | elapsed {int(elapsed // 60)}m"
                f"{int(elapsed % 60):02d}s | ETA {eta_text} | front {front} | {last}")
        if self.tty:
            print("\r" + line[:150].ljust(150), end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def _print_front(frame: Any) -> None:
    from nasbench.results import pareto_frame

    front = pareto_frame(frame)
    if front.empty:
        print("No feasible completed trial yet: the Pareto front is empty.")
        return
    print(f"Pareto front ({len(front)} of {len(frame)} trials; validation accuracy up, latency down)")
    print(f"{'trial':>5}  {'val_acc':>7}  {'latency_ms':>10}  {'params':>9}  {'MMACs':>7}  arch")
    for row in front.itertuples():
        print(f"{row.number:>5}  {row.val_acc:>7.4f}  {row.latency_ms:>10.3f}  {int(row.params):>9,}  "
              f"{row.macs / 1e6:>7.2f}  {row.arch}")
    print("latency_ms: median of repeated runs at batch 1; MMACs: millions of multiply-adds "
          "(fvcore flops, 1 multiply-add = 1 flop)")


def _search_config(args: argparse.Namespace) -> Any:
    from nasbench.search import SearchConfig

    return SearchConfig(
        space=args.space, dataset=args.dataset, data_dir=args.data_dir, resolution=args.resolution,
        budget=args.budget, sampler=args.sampler, seed=args.seed, device=args.device,
        threads=args.threads, latency_threads=args.latency_threads, epochs=args.epochs,
        max_train=args.max_train_samples, study=args.study, storage=args.storage,
        runs_dir=args.runs_dir, max_latency_ms=args.max_latency_ms, max_params=args.max_params,
        max_flops=args.max_flops, heartbeat_s=args.heartbeat,
    )


def _finish(config: Any, as_json: bool = False, csv_path: Path | None = None) -> int:
    from nasbench.results import pareto_frame, results_frame, write_table
    from nasbench.search import count_states, open_study

    study = open_study(config)
    frame = results_frame(study)
    counts = count_states(study)
    if csv_path is None:  # run_search writes it; after several workers, write the final one
        csv_path = write_table(frame, config.run_dir / "results.csv")
    if as_json:
        front = pareto_frame(frame)[["number", "val_acc", "latency_ms", "params", "macs", "arch"]]
        _print_json({"study": config.study_name, "storage": config.storage_url,
                     "complete": counts.get("COMPLETE", 0), "failed": counts.get("FAIL", 0),
                     "results_csv": str(csv_path), "pareto_front": front.to_dict(orient="records")})
        return 0
    _print_front(frame)
    print(f"\n{counts.get('COMPLETE', 0)} complete, {counts.get('FAIL', 0)} failed trials. Study: "
          f"{config.storage_url} (study {config.study_name!r})")
    where = (str(config.run_dir) if config.storage is None
             else f"{config.storage_url} --study {config.study_name}")
    print(f"Results table: {csv_path}   (python cli.py results {where})")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Run or resume a search until the budget of completed trials is reached."""
    from nasbench.search import SearchError, count_states, load_search_data, open_study, run_search

    # Optuna logs each failed trial with a traceback; our progress line shows the reason instead.
    _quiet_optuna(logging.ERROR)
    config = _search_config(args)
    if args.workers < 1 or args.workers > 64:
        raise UsageError(f"--workers must be between 1 and 64, got {args.workers}")
    try:
        config.validate()
        data = load_search_data(config)
        done = count_states(open_study(config)).get("COMPLETE", 0)
        print(f"Study {config.study_name!r} in {config.storage_url}: {done} of {config.budget} "
              f"trials complete; space {config.space}, dataset {config.dataset}, sampler "
              f"{config.sampler}, seed {config.seed}, device {config.device}, "
              f"{args.workers} worker(s)", file=sys.stderr)
        progress = Progress(config.budget, done)
        if args.workers > 1:
            return _run_workers(config, args.workers, progress, args.json)
        outcome = run_search(config, callbacks=[progress], data=data)
    except SearchError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        print(f"\nInterrupted: the study is intact in {config.storage_url}; run the same command "
              f"again to resume.", file=sys.stderr)
        return 130
    if progress.tty:
        print(file=sys.stderr)
    return _finish(config, args.json, outcome.results_csv)


def _run_workers(config: Any, workers: int, progress: Progress, as_json: bool = False) -> int:
    """Start ``workers`` worker processes on the study, show progress, wait for them."""
    import subprocess
    import time

    from nasbench.search import open_study

    threads = max(1, config.threads // workers)
    storage = config.storage_url
    if storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        storage = "sqlite:///" + str(Path(storage[len("sqlite:///"):]).resolve())
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve().parents[1] / "cli.py"),
                               "worker", "--storage", storage, "--study", config.study_name,
                               "--runs-dir", config.runs_dir, "--threads", str(threads),
                               "--worker-index", str(i + 1), "--quiet"])
             for i in range(workers)]
    study = open_study(config)
    seen = -1
    try:
        while any(p.poll() is None for p in procs):
            trials = study.get_trials(deepcopy=False)
            finished = [t for t in trials if t.state.is_finished()]
            if len(finished) != seen and finished:
                seen = len(finished)
                progress(study, max(finished, key=lambda t: t.datetime_complete or t.datetime_start))
            time.sleep(1.0)
    except KeyboardInterrupt:
        for p in procs:
            p.send_signal(2)
        for p in procs:
            p.wait()
        print(f"\nInterrupted: the study is intact in {config.storage_url}; run the same command "
              f"again to resume.", file=sys.stderr)
        return 130
    if progress.tty:
        print(file=sys.stderr)
    bad = [p.returncode for p in procs if p.returncode != 0]
    if bad:
        print(f"error: {len(bad)} worker(s) exited with an error (codes {bad}); run the same "
              f"command again to resume", file=sys.stderr)
        return EXIT_USAGE
    return _finish(config, as_json)


def cmd_worker(args: argparse.Namespace) -> int:
    """Join an existing study (this machine or another) and work until its budget is done."""
    from nasbench.search import SearchError, config_from_study, run_search

    _quiet_optuna(logging.ERROR)
    try:
        config = config_from_study(args.storage, args.study, args.runs_dir, args.threads,
                                   args.worker_index)
        callbacks = [] if args.quiet else [Progress(config.budget, 0)]
        outcome = run_search(config, callbacks=callbacks)
    except SearchError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        if not args.quiet:
            print("\nInterrupted: the study is intact; run the same command again to rejoin.",
                  file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"\nworker done: the study has {outcome.complete} complete trials", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------ results

def open_run(run: str, study_name: str | None = None, runs_dir: str = "runs") -> Any:
    """Open a study from a run folder, a study name or a storage URL (UsageError if not)."""
    from nasbench.results import open_run as _open_run

    _quiet_optuna()
    try:
        return _open_run(run, study_name, runs_dir)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_results(args: argparse.Namespace) -> int:
    """Print and export the results table of a run."""
    from nasbench.results import pareto_frame, results_frame, write_table

    study = open_run(args.run, args.study, args.runs_dir)
    frame = results_frame(study)
    shown = pareto_frame(frame) if args.pareto else frame
    for path in filter(None, (args.csv, args.parquet)):
        try:
            write_table(shown, path)
        except (ValueError, OSError) as exc:
            raise UsageError(f"cannot write {path}: {exc}") from None
    if args.json:
        print(shown.to_json(orient="records", date_format="iso", indent=2))
        return 0
    if shown.empty:
        print(f"Study {study.study_name!r} has no trials yet." if not args.pareto else
              f"Study {study.study_name!r} has no feasible completed trial: the front is empty.")
        return 0
    columns = ["number", "state", "val_acc", "latency_ms", "latency_iqr_ms", "params", "macs",
               "feasible", "pareto", "reused_from", "arch"]
    import pandas as pd

    with pd.option_context("display.max_colwidth", 200, "display.width", 250):
        print(shown[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    first = frame.dropna(subset=["device_name"]).head(1)
    if not first.empty:
        r = first.iloc[0]
        print(f"\nLatency: median ms at batch {r['batch']} on {r['device_name']}, {r['threads']} "
              f"thread(s), {r['dtype']}, {r['memory_format']}, torch {r['torch_version']}. "
              f"macs: multiply-adds (fvcore flops, 1 multiply-add = 1 flop).")
    for path in filter(None, (args.csv, args.parquet)):
        print(f"written: {path}")
    return 0


# ------------------------------------------------------------------------------------- export

def _write_export(arch: Any, out: Path, info: dict[str, Any], **kwargs: Any) -> dict[str, Path]:
    from nasbench.export import export_arch

    try:
        return export_arch(arch, out, info, **kwargs)
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror}; choose another --out") from None


def cmd_export(args: argparse.Namespace) -> int:
    """Export a trial of a run as a standalone module, spec and torch.export program."""
    from nasbench.arch import decode
    from nasbench.results import results_frame, select_trial

    study = open_run(args.run, args.study, args.runs_dir)
    frame = results_frame(study)
    try:
        row = select_trial(frame, trial=args.trial, max_latency_ms=args.max_latency_ms, pick=args.pick)
    except ValueError as exc:
        raise UsageError(f"cannot export from {args.run}: {exc}") from None
    trial = study.get_trials(deepcopy=False)[int(row["number"])]
    arch = decode(str(row["arch"]))
    config = study.user_attrs.get("config", {})
    info = {
        "trial": int(row["number"]), "study": study.study_name, "space": study.user_attrs.get("space"),
        "dataset": config.get("dataset", study.user_attrs.get("dataset")),
        "data_dir": config.get("data_dir"), "val_acc": float(row["val_acc"]),
        "latency_ms": float(row["latency_ms"]), "params": int(row["params"]), "macs": int(row["macs"]),
        "latency": trial.user_attrs.get("latency"),
        "chosen_by": (f"trial {args.trial}" if args.trial is not None else
                      f"best accuracy within {args.max_latency_ms} ms" if args.max_latency_ms is not None
                      else f"{args.pick} of the Pareto front"),
    }
    out = Path(args.out)
    written = _write_export(arch, out, info, onnx=args.onnx)
    if args.json:
        _print_json({"trial": info, "files": {k: str(v) for k, v in written.items()}})
        return 0
    print(f"Exported trial {info['trial']} ({info['chosen_by']}): val_acc {info['val_acc']:.4f}, "
          f"latency {info['latency_ms']:.3f} ms, params {info['params']:,}, "
          f"MACs {info['macs']:,}")
    print(f"  {arch.to_string()}")
    for kind, path in written.items():
        print(f"  {kind:<8} {path}")
    print(f"Train it in full: python cli.py train {out} --epochs 30")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train an architecture in full on train + validation and report test accuracy."""
    import hashlib

    import numpy as np
    import torch
    from sklearn.metrics import classification_report

    from nasbench.build import build_model
    from nasbench.data import load_dataset
    from nasbench.export import read_export
    from nasbench.train import default_train_config, evaluate, train_model

    source = Path(args.arch)
    if source.is_dir():
        try:
            arch, info = read_export(source)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        out = Path(args.out) if args.out else source
    else:
        arch, info = load_arch(args.arch), {}
        digest = hashlib.sha256(arch.to_string().encode()).hexdigest()[:10]
        out = Path(args.out) if args.out else Path(args.runs_dir) / "trained" / digest
    dataset = args.dataset or info.get("dataset") or "digits"
    data_dir = args.data_dir or info.get("data_dir")
    try:
        data = load_dataset(dataset, data_dir, args.resolution, seed=args.seed,
                            cache_dir=Path(args.runs_dir) / ".cache")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    shape = (data.channels, data.resolution, len(data.classes))
    if (arch.in_channels, arch.resolution, arch.num_classes) != shape:
        raise UsageError(f"the architecture expects {arch.in_channels}x{arch.resolution}x"
                         f"{arch.resolution} inputs and {arch.num_classes} classes but {dataset} has "
                         f"{shape[0]}x{shape[1]}x{shape[1]} and {shape[2]}; use --dataset/--resolution "
                         f"to match")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    config = default_train_config(dataset, args.epochs)
    model = build_model(arch, seed=args.seed)
    print(f"Training {arch.to_string()}\non {data.summary()} (train + val), {config.epochs} epochs, "
          f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size}, seed {args.seed}",
          file=sys.stderr)

    def on_epoch(epoch: int, accuracy: float) -> None:
        print(f"epoch {epoch + 1}/{config.epochs}: test accuracy {accuracy:.4f}", file=sys.stderr)

    result = train_model(model, data, config, seed=args.seed, device=args.device,
                         threads=args.threads, on_epoch=on_epoch, train_on_val=True)
    model.cpu().eval()
    accuracy = evaluate(model, data.x_test, data.y_test)
    with torch.no_grad():
        predictions = np.concatenate([model(data.x_test[i:i + 512]).argmax(1).numpy()
                                      for i in range(0, len(data.y_test), 512)])
    report = classification_report(data.y_test.numpy(), predictions, labels=list(range(len(data.classes))),
                                   target_names=list(data.classes), digits=4, zero_division=0)
    info.update({"test_acc": accuracy, "trained_epochs": config.epochs, "train_seed": args.seed,
                 "train_time_s": result.train_time_s, "dataset": dataset, "data_dir": data_dir,
                 "normalize_mean": list(data.mean), "normalize_std": list(data.std)})
    written = _write_export(arch, out, info, state_dict=model.state_dict())
    if args.json:
        _print_json({"test_acc": accuracy, "files": {k: str(v) for k, v in written.items()}})
        return 0
    print(f"Test accuracy {accuracy:.4f} on {len(data.y_test)} held-out images "
          f"({result.train_time_s:.1f} s of training)\n")
    print(report)
    print(f"Weights: {written['weights']} (load with torch.load(..., weights_only=True)); "
          f"module: {written['model']}")
    return 0


# --------------------------------------------------------------------------------------- main

class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.split(" ", 1)[1] + " " if " " in self.prog else ""
        self.exit(EXIT_USAGE, f"error: {message}; see: python cli.py {command}--help\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="nasbench", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("spaces", help="list search spaces and their sizes")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_spaces)

    p = sub.add_parser("blocks", help="compare standard, depthwise-separable and inverted-residual blocks")
    p.add_argument("--cin", type=int, default=32, help="input channels (default 32)")
    p.add_argument("--cout", type=int, default=64, help="output channels (default 64)")
    p.add_argument("--kernel", "-k", type=int, default=3, help="kernel size 3, 5 or 7 (default 3)")
    p.add_argument("--size", type=int, default=56, help="input height = width (default 56)")
    p.add_argument("--stride", type=int, default=1, help="1 or 2 (default 1)")
    p.add_argument("--expansion", type=float, default=6.0, help="inverted-residual expansion t (default 6)")
    p.add_argument("--se", type=float, default=0.0, help="squeeze-excite ratio, 0 for none (default 0)")
    p.add_argument("--csv", help="also write the table to this CSV file")
    _add_latency_args(p)
    p.set_defaults(func=cmd_blocks)

    p = sub.add_parser("profile", help="params, MACs and latency of one architecture")
    p.add_argument("arch", help="reference name (e.g. mobilenet_v2), spec string or JSON file")
    p.add_argument("--resolution", type=_positive_int, help="input resolution (default: the spec's)")
    p.add_argument("--depth", type=int, default=2, help="module depth of the MACs breakdown (default 2)")
    _add_latency_args(p)
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("search", help="run or resume an accuracy-latency architecture search")
    p.add_argument("--space", default="mixed", help="search space (python cli.py spaces); default mixed")
    p.add_argument("--budget", type=int, default=50, help="completed trials wanted (default 50)")
    p.add_argument("--sampler", default="tpe", help="tpe, nsga2 or random (default tpe)")
    p.add_argument("--seed", type=int, default=0, help="seed of sampler, splits and training (default 0)")
    p.add_argument("--dataset", default="digits", help="digits (embedded), cifar10 or folder")
    p.add_argument("--data-dir", help="dataset folder (cifar10: cifar-10-batches-py; folder: train/<class>/...)")
    p.add_argument("--resolution", type=_positive_int, help="input resolution (default: the dataset's)")
    p.add_argument("--max-train-samples", type=_positive_int,
                   help="train on a stratified subset of this many images (quick searches)")
    p.add_argument("--device", default="cpu", help="cpu or cuda: training and latency (default cpu)")
    p.add_argument("--threads", type=_positive_int, default=max(1, os.cpu_count() or 1),
                   help="CPU threads for training (default: all cores)")
    p.add_argument("--latency-threads", type=_positive_int, default=1,
                   help="CPU threads for latency measurement (default 1)")
    p.add_argument("--epochs", type=int, help="proxy-training epochs (default: per dataset)")
    p.add_argument("--study", help="study name (default: <space>-<dataset>-<sampler>-seed<seed>)")
    p.add_argument("--storage", help="Optuna storage URL (default sqlite:///runs/<study>/study.db)")
    p.add_argument("--runs-dir", default="runs", help="folder for run outputs (default runs)")
    p.add_argument("--max-latency-ms", type=float, help="constraint: median latency at most this")
    p.add_argument("--max-params", type=int, help="constraint: parameters at most this")
    p.add_argument("--max-flops", type=int, help="constraint: multiply-adds at most this")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes on this machine (default 1); training threads are shared")
    p.add_argument("--heartbeat", type=int, default=10,
                   help="seconds between worker heartbeats; a trial silent for 3 is failed and retried")
    p.add_argument("--json", action="store_true", help="print the summary and front as JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("worker", help="join an existing study, from this or another machine")
    p.add_argument("--storage", required=True, help="the study's storage URL (postgresql://… or sqlite:///…)")
    p.add_argument("--study", required=True, help="the study name")
    p.add_argument("--threads", type=_positive_int, help="CPU threads for training (default: the study's)")
    p.add_argument("--runs-dir", default="runs", help="folder for the data cache (default runs)")
    p.add_argument("--worker-index", type=int, default=1, help="distinct per worker: seeds its sampler")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("results", help="print and export the results table of a run")
    p.add_argument("run", help="run folder (runs/<study>), study name, or storage URL")
    p.add_argument("--study", help="study name, when the storage holds several")
    p.add_argument("--runs-dir", default="runs", help="folder of runs (default runs)")
    p.add_argument("--pareto", action="store_true", help="only the Pareto front")
    p.add_argument("--csv", help="also write the table to this .csv file")
    p.add_argument("--parquet", help="also write the table to this .parquet file")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("export", help="export a trial as a standalone PyTorch module")
    p.add_argument("run", help="run folder (runs/<study>), study name, or storage URL")
    p.add_argument("--out", required=True, help="folder to write model.py, arch.json, model.pt2 into")
    choose = p.add_mutually_exclusive_group()
    choose.add_argument("--trial", type=int, help="export this trial number")
    choose.add_argument("--max-latency-ms", type=float, help="the most accurate trial within this latency")
    choose.add_argument("--pick", default="knee", choices=("knee", "accuracy", "latency"),
                        help="point of the Pareto front (default knee)")
    p.add_argument("--study", help="study name, when the storage holds several")
    p.add_argument("--runs-dir", default="runs", help="folder of runs (default runs)")
    p.add_argument("--onnx", action="store_true", help="also write model.onnx (needs the onnx package)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("train", help="train an architecture in full, report test accuracy, save weights")
    p.add_argument("arch", help="export folder, reference name, spec string or JSON file")
    p.add_argument("--epochs", type=_positive_int, help="epochs (default: per dataset)")
    p.add_argument("--dataset", help="digits, cifar10 or folder (default: the export's, else digits)")
    p.add_argument("--data-dir", help="dataset folder (default: the export's)")
    p.add_argument("--resolution", type=_positive_int, help="input resolution")
    p.add_argument("--seed", type=int, default=0, help="seed of splits, init and training (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=_positive_int, default=max(1, os.cpu_count() or 1))
    p.add_argument("--out", help="folder for the weights and export (default: the export folder)")
    p.add_argument("--runs-dir", default="runs", help="folder of runs (default runs)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; bad input prints one line and returns 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
