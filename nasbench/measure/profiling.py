"""Profile a network or compare single blocks: params, multiply-adds and latency together."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from nasbench.spec.arch import Arch, BlockConfig, Stage, Stem, resolve_blocks
from nasbench.nn.build import build_block, build_model, count_params
from nasbench.nn.flops import count_flops
from nasbench.spec.formulas import arch_cost, block_cost, separable_ratio
from nasbench.measure.latency import (DEFAULT_CLOCK, LatencyResult, check_options, effective_clock,
                              measure_latency)
from nasbench.nn.memory import check_arch, check_fits
from nasbench.measure.quiet import QuietSlot, hold_exclusive
from nasbench.spec.references import load_arch

BLOCK_LABELS: dict[str, str] = {
    "conv": "standard", "ds": "depthwise-separable", "ir": "inverted residual",
}


@dataclass(frozen=True)
class LatencyOptions:
    """How to time: device, threads, batch, dtype, memory format and time budget per model."""

    device: str = "cpu"
    threads: int = 1
    batch: int = 1
    dtype: str = "float32"
    memory_format: str = "contiguous"
    min_time_s: float = 1.0
    clock: str = DEFAULT_CLOCK

    def __post_init__(self) -> None:
        check_options(self.device, self.threads, self.batch, self.dtype, self.memory_format)
        effective_clock(self.device, self.clock)
        if not 0.05 <= self.min_time_s <= 600:
            raise ValueError(f"--min-time must be between 0.05 and 600 seconds, got {self.min_time_s}")

    def measure(self, model: Any, input_shape: tuple[int, int, int], device: str | None = None,
                slot: QuietSlot | None = None) -> LatencyResult:
        """Measure ``model`` with these options (``device`` overrides the default), holding
        the machine's quiet ``slot`` alone while timing when one is given."""
        with hold_exclusive(slot):
            return measure_latency(model, input_shape, device=device or self.device,
                                   threads=self.threads, batch=self.batch, dtype=self.dtype,
                                   memory_format=self.memory_format, min_time_s=self.min_time_s,
                                   clock=self.clock)


MAX_MACS = 100_000_000_000
"""The most multiply-adds per image that ``profile`` and ``blocks`` time (about 25 ResNet-50s:
minutes per run on a CPU)."""


def check_work(macs: int, what: str, fix: str) -> None:
    """Raise ``ValueError`` when ``macs`` per image exceed :data:`MAX_MACS`, before anything is
    built."""
    if macs > MAX_MACS:
        raise ValueError(f"{what} takes {macs:,} multiply-adds per image, more than the "
                         f"{MAX_MACS:,} nasbench times; {fix}")


def profile_arch(arch: Arch, options: LatencyOptions, module_depth: int = 2,
                 slot: QuietSlot | None = None, memory_check: bool = True) -> dict[str, Any]:
    """Params, multiply-adds (total, per operator, per module) and latency of ``arch``
    (timed holding the quiet ``slot`` alone, when given). Refuses, before building, a network
    the machine cannot hold at ``options.batch`` (unless ``memory_check`` is off)."""
    if isinstance(module_depth, bool) or not 0 <= module_depth <= 10:
        raise ValueError(f"--depth must be between 0 and 10, got {module_depth}")
    if memory_check:
        check_arch(arch, options.batch, training=False, device=options.device)
    check_work(arch_cost(arch).macs, "this network", "lower --resolution or the widths")
    model = build_model(arch)
    shape = (arch.in_channels, arch.resolution, arch.resolution)
    flops = count_flops(model, (1, *shape), module_depth=module_depth)
    latency = options.measure(model, shape, slot=slot)
    return {
        "arch": arch.to_string(),
        "resolution": arch.resolution,
        "params": count_params(model),
        "macs": flops.total,
        "macs_by_operator": flops.by_operator,
        "macs_by_module": flops.by_module,
        "unsupported_ops": flops.unsupported,
        "latency": latency.to_dict(),
    }


def block_configs(c_in: int, c_out: int, kernel: int, size: int, stride: int, expansion: float,
                  se_ratio: float = 0.0, activation: str = "relu") -> list[BlockConfig]:
    """The standard, depthwise-separable and inverted-residual blocks for the same job, with
    widths resolved by the same rules as whole architectures (:func:`resolve_blocks`)."""
    configs = []
    for kind in ("conv", "ds", "ir"):
        stage = Stage(kind, c_out, 1, kernel, stride, expansion if kind == "ir" else 1.0,
                      se_ratio, activation)
        arch = Arch(stem=Stem(c_in, 3, 1, activation), stages=(stage,), resolution=size,
                    in_channels=min(c_in, 64), num_classes=2)  # stem and classes: not measured
        configs.append(resolve_blocks(arch)[0])
    return configs


def check_block(c_in: int, c_out: int, kernel: int, size: int, stride: int, expansion: float,
                se_ratio: float = 0.0) -> list[BlockConfig]:
    """Raise ``ValueError`` naming the bad value and the options to change when the blocks of
    :func:`block_configs` cannot be built."""
    try:  # the spec's own checks name the bad value; this adds which options to change
        configs = block_configs(c_in, c_out, kernel, size, stride, expansion, se_ratio)
    except ValueError as exc:
        raise ValueError(f"invalid block: {exc}; use --kernel 3/5/7, --stride 1/2, --expansion "
                         f"1-16, --se 0-1 and widths/size of at least 1") from None
    return configs


def compare_blocks(c_in: int = 32, c_out: int = 64, kernel: int = 3, size: int = 56,
                   stride: int = 1, expansion: float = 6.0, se_ratio: float = 0.0,
                   options: LatencyOptions | None = None, devices: tuple[str, ...] = ("cpu",),
                   slot: QuietSlot | None = None, memory_check: bool = True) -> list[dict[str, Any]]:
    """One row per block kind: params and MACs measured and closed-form, latency, ratios to
    the standard conv. Latency columns are ``<device>_ms`` (median) and ``<device>_iqr_ms``.
    Invalid settings (kernel, stride, widths…) raise ``ValueError`` from the spec's checks."""
    options = options or LatencyOptions()
    rows: list[dict[str, Any]] = []
    configs = block_configs(c_in, c_out, kernel, size, stride, expansion, se_ratio)
    for cfg in configs:  # every block checked before any is built
        if memory_check:
            per_image = (cfg.in_channels * cfg.in_size ** 2 + 3 * cfg.mid_channels * cfg.in_size ** 2
                         + cfg.out_channels * cfg.out_size ** 2)
            check_fits(block_cost(cfg).params * 4 + per_image * options.batch * 4,
                       f"this {cfg.kind} block at batch {options.batch}",
                       "lower --batch, --size or the widths", options.device)
    check_work(max(block_cost(c).macs for c in configs), "the largest of these blocks",
               "lower --size, --cin, --cout or --expansion")
    for cfg in configs:
        block = build_block(cfg)
        shape = (c_in, size, size)
        measured = count_flops(block, (1, *shape), module_depth=0).total
        formula = block_cost(cfg)
        row: dict[str, Any] = {
            "block": BLOCK_LABELS[cfg.kind],
            "params": count_params(block), "params_formula": formula.params,
            "macs": measured, "macs_formula": formula.macs,
        }
        for device in devices:
            result = options.measure(block, shape, device=device, slot=slot)
            row[f"{device}_ms"] = result.stats.median_ms
            row[f"{device}_iqr_ms"] = result.stats.iqr_ms
            row[f"{device}_samples"] = result.stats.samples
            row[f"{device}_conditions"] = result.conditions.summary()
        rows.append(row)
    base = rows[0]
    for row in rows:
        row["params_ratio"] = row["params"] / base["params"]
        row["macs_ratio"] = row["macs"] / base["macs"]
        for device in devices:
            row[f"{device}_ratio"] = row[f"{device}_ms"] / base[f"{device}_ms"]
    return rows


def module_costs(arch: Arch, depth: int = 2) -> list[dict[str, Any]]:
    """Parameters and multiply-adds per module, down to ``depth`` dots (``""`` is the total)."""
    model = build_model(arch)
    flops = count_flops(model, (1, arch.in_channels, arch.resolution, arch.resolution),
                        module_depth=depth)
    rows = []
    for name, module in model.named_modules():
        if name.count(".") >= depth:
            continue
        params = sum(p.numel() for p in module.parameters())
        macs = flops.by_module.get(name, 0)
        if params or macs or name == "":
            rows.append({"module": name or "(total)", "params": params, "macs": macs})
    return rows


def blocks_job(shape: tuple[int, int, int, int, int, float, float], options: LatencyOptions,
               slot: QuietSlot | None = None,
               memory_check: bool = True) -> tuple[list[dict[str, Any]], tuple[str, ...], float]:
    """``blocks``: the three block kinds for one job (``shape``: c_in, c_out, kernel, size,
    stride, expansion, SE ratio) compared on every device here (:func:`compare_blocks`), and
    the closed-form ratio of a depthwise-separable block's cost to a standard conv's. Raises
    ``ValueError`` on a block that cannot be built or is too large to time, before anything is."""
    check_block(*shape)
    devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    rows = compare_blocks(*shape, options, devices, slot=slot, memory_check=memory_check)
    return rows, devices, separable_ratio(shape[1], shape[2])


def profile_spec(spec: str, options: LatencyOptions, resolution: int | None = None,
                 module_depth: int = 2, slot: QuietSlot | None = None,
                 memory_check: bool = True) -> dict[str, Any]:
    """``profile SPEC``: :func:`profile_arch` of a reference name, string or JSON file, at
    ``resolution`` when given."""
    arch = load_arch(spec)
    if resolution is not None:
        arch = dataclasses.replace(arch, resolution=resolution)
    return profile_arch(arch, options, module_depth=module_depth, slot=slot,
                        memory_check=memory_check)
