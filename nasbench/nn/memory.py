"""How much memory a network or a dataset will take, estimated from the spec before anything is
built, and the check that refuses what the machine cannot hold (instead of swapping or being
killed). Estimates are upper-bound-minded: every intermediate tensor of a training step is
assumed kept for the backward pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasbench.spec.arch import AnyArch, resolve_blocks
from nasbench.spec.cells import CellArch, activation_elements
from nasbench.spec.formulas import arch_cost

BYTES = 4  # float32
TRAINING_COPIES = 4
"""Copies of the parameters in training: the weights, their gradients, Adam's two moments."""
INFERENCE_COPIES = 3
"""Copies of the parameters when a network is only run: the model, the copy that latency is
measured on, and fvcore's traced graph while multiply-adds are counted (``profile`` peaked at
2.3 x the parameters)."""
OVERRIDE = "--no-memory-check"


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes for parameters (with gradients and optimizer state when training) and for
    activations at a batch size."""

    params_bytes: int
    activation_bytes: int

    @property
    def total(self) -> int:
        """All of it."""
        return self.params_bytes + self.activation_bytes


def estimate(arch: AnyArch, batch: int, training: bool) -> MemoryEstimate:
    """Memory of ``arch`` at ``batch``: inference keeps the largest pair of neighbouring
    tensors; training keeps every intermediate tensor (conv, BN and activation outputs)."""
    tensors = (activation_elements(arch) if isinstance(arch, CellArch) else _block_tensors(arch))
    params = arch_cost(arch).params * BYTES * (TRAINING_COPIES if training else INFERENCE_COPIES)
    if training:
        activations = sum(tensors) * batch * BYTES
    else:
        activations = max(a + b for a, b in zip(tensors, tensors[1:] + [0])) * batch * BYTES
    return MemoryEstimate(params, activations)


def _block_tensors(arch: Any) -> list[int]:
    """The elements of every tensor a block network's training step keeps, in order."""
    stem = -(-arch.resolution // arch.stem.stride)
    tensors = [arch.in_channels * arch.resolution ** 2] + [arch.stem.channels * stem ** 2] * 3
    for b in resolve_blocks(arch):
        out = b.out_channels * b.out_size ** 2
        if b.kind == "conv":
            tensors += [out] * 3
        elif b.kind == "ds":
            tensors += [b.in_channels * b.out_size ** 2] * 3 + [out] * 3
        else:
            tensors += [b.mid_channels * b.in_size ** 2] * 3 + [b.mid_channels * b.out_size ** 2] * 3
            tensors += [out] * 2
    if arch.head.channels:
        tensors += [arch.head.channels * arch.final_resolution() ** 2] * 3
    return tensors


def available_bytes(device: str = "cpu") -> int | None:
    """Memory available now: ``MemAvailable`` on Linux, the free memory of a CUDA device;
    ``None`` where it cannot be read."""
    if device.startswith("cuda"):
        import torch  # deferred: the estimates themselves need no torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _gb(value: int) -> str:
    return f"{value / 1e9:.1f} GB"


def check_fits(need: int, what: str, fix: str, device: str = "cpu") -> None:
    """Raise ``ValueError`` when ``need`` bytes exceed 80 % of what ``device`` has available."""
    have = available_bytes(device)
    if have is not None and need > 0.8 * have:
        raise ValueError(f"{what} would need about {_gb(need)} of memory but {device} has "
                         f"{_gb(have)} available; {fix}, or add {OVERRIDE} to try anyway")


def check_arch(arch: AnyArch, batch: int, training: bool, device: str = "cpu") -> None:
    """Refuse ``arch`` at ``batch`` where it cannot fit (see :func:`check_fits`)."""
    need = estimate(arch, batch, training)
    check_fits(need.total, f"{'training' if training else 'running'} this network at batch "
                           f"{batch} ({_gb(need.params_bytes)} of parameters"
                           f"{', gradients and optimizer state' if training else ''}, "
                           f"{_gb(need.activation_bytes)} of activations)",
               "lower --batch, --resolution or the widths", device)
