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


# --------------------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="nasbench", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)

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
