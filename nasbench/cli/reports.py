"""Terminal renderings of measurements: spaces, per-block figures, profiles, the latency
model's fit, evaluation and predictions. Output for the terminal only; the CLI prints them.
"""

from __future__ import annotations

import shlex
from typing import Any

import pandas as pd

from nasbench.cli.text import MACS_NOTE



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
        f"Written to {path}   (python cli.py latency-model eval {shlex.quote(str(path))})",
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
