"""Proxy training: a short, seeded training run that reports validation accuracy per epoch."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import torch
from torch import nn

from nasbench.nn import conv_grads
from nasbench.nn.build import build_model
from nasbench.train.data import DataSplits
from nasbench.nn.memory import check_arch
from nasbench.measure.conditions import check_device
from nasbench.measure.quiet import QuietSlot, hold_shared
from nasbench.train.recipe import (TrainConfig)
from nasbench.train.threads import ThreadGovernor, governor

if TYPE_CHECKING:
    from nasbench.spec.arch import Arch

logger = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainResult:
    """What a training run achieved."""

    val_accuracy: float
    val_accuracy_per_epoch: tuple[float, ...]
    final_loss: float
    train_time_s: float
    epochs: int
    history: tuple[float, ...] = field(default_factory=tuple)
    threads: float | None = None
    """CPU threads per training step, weighted by the steps' time (``None``: no step)."""
    waited_s: float = 0.0
    """Seconds the steps waited for latency measurements of other nasbench processes."""


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop (4-pixel reflect padding, scaled to the resolution) and horizontal flip."""
    n, _, h, w = x.shape
    pad = max(1, h // 8)
    padded = nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (1,), generator=generator).item()
    dx = torch.randint(0, 2 * pad + 1, (1,), generator=generator).item()
    out = padded[:, :, dy:dy + h, dx:dx + w]
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


@torch.no_grad()
def training_memory_format(device: str) -> torch.memory_format:
    """The memory format training uses: channels-last on a CPU, where oneDNN's convolutions
    train faster in it (``benchmarks/train_step.py`` times both side by side), PyTorch's default
    elsewhere. What a model computes does not depend on it beyond float rounding."""
    return torch.channels_last if device == "cpu" else torch.contiguous_format


def calibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int, device: str = "cpu",
                        slot: QuietSlot | None = None,
                        threads: ThreadGovernor | None = None) -> None:
    """Replace the running statistics of every BatchNorm layer of ``model`` with their average
    over ``x`` (forward passes in training mode, ``batch_size`` images at a time, no gradient).
    The weights do not change; the model is left in training mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or len(x) < 2:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the calibration batches
    model.train()
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                xb = x[start:start + batch_size]
                if len(xb) < 2:
                    break
                with hold_shared(slot), _step(threads):
                    model(xb.to(device).contiguous(memory_format=training_memory_format(device)))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512,
             device: str = "cpu", slot: QuietSlot | None = None,
             threads: ThreadGovernor | None = None) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)`` (``threads``: the governor of its steps;
    ``None``: torch's thread count as it is)."""
    model.eval()
    correct = 0
    for start in range(0, len(y), batch_size):
        with hold_shared(slot), _step(threads), torch.no_grad():
            xb = x[start:start + batch_size].to(device).contiguous(
                memory_format=training_memory_format(device))
            correct += int((model(xb).argmax(1).cpu() == y[start:start + batch_size]).sum())
    return correct / max(1, len(y))


def _step(threads: ThreadGovernor | None) -> contextlib.AbstractContextManager[None]:
    """``threads.step()``, or nothing without a governor."""
    return threads.step() if threads is not None else contextlib.nullcontext()


def train_model(model: nn.Module, data: DataSplits, config: TrainConfig, seed: int = 0,
                device: str = "cpu", threads: int | ThreadGovernor | None = None,
                on_epoch: Callable[[int, float], None] | None = None,
                train_on_val: bool = False, slot: QuietSlot | None = None) -> TrainResult:
    """Train ``model`` in place on the training split; validation accuracy after each epoch.

    ``on_epoch(epoch, val_accuracy)`` is called after each epoch (for trial reports; it may
    raise to stop). ``train_on_val`` adds the validation split to the training data (final
    training; the reported accuracy is then on the test split). With ``slot``, each step holds
    the machine's quiet slot shared, so latency measurements elsewhere wait for it. ``threads``:
    a fixed CPU thread count, a governor, or ``None`` for this process's adaptive governor
    (:mod:`nasbench.train.threads`: as many threads as the host's load lets run without waiting).
    Seeded by ``seed`` alone: torch's global random state is saved and restored around it.
    """
    check_device(device)
    devices = [torch.device(device).index or 0] if device != "cpu" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return _train(model, data, config, seed, device, threads, on_epoch, train_on_val, slot)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer of ``config`` over the trainable parameters of ``model``. ``foreach``: one
    multi-tensor update instead of a loop over parameters (PyTorch's default on a GPU, not on a
    CPU): half the optimizer's time on a CPU, and the same weights bit for bit."""
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay,
                                 foreach=True)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay, nesterov=True, foreach=True)


def _train(model: nn.Module, data: DataSplits, config: TrainConfig, seed: int, device: str,
           threads: int | ThreadGovernor | None, on_epoch: Callable[[int, float], None] | None,
           train_on_val: bool, slot: QuietSlot | None) -> TrainResult:
    generator = torch.Generator().manual_seed(seed)
    previous_threads = torch.get_num_threads()
    governed = threads if isinstance(threads, ThreadGovernor) else governor(threads or None)
    governed.begin()
    use_before = governed.usage()
    waited_before = slot.shared_waited_s if slot is not None else 0.0
    x_train, y_train = data.x_train, data.y_train
    x_eval, y_eval = data.x_val, data.y_val
    if train_on_val:
        x_train, y_train = torch.cat([x_train, data.x_val]), torch.cat([y_train, data.y_val])
        x_eval, y_eval = data.x_test, data.y_test
    layout = training_memory_format(device)
    model.to(device=device, memory_format=layout)
    optimizer = make_optimizer(model, config)
    steps_per_epoch = math.ceil(len(y_train) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    accuracies: list[float] = []
    history: list[float] = []
    loss_value = float("nan")
    calibration = x_train[torch.randperm(len(y_train), generator=torch.Generator().manual_seed(seed))
                          [:config.bn_calibration]]
    start = time.perf_counter()
    # weight gradients of kernels larger than their maps, on a CPU (see nasbench.nn.conv_grads)
    with conv_grads.installed(model, enabled=torch.device(device).type == "cpu"):
        try:
            for epoch in range(config.epochs):
                model.train()
                order = torch.randperm(len(y_train), generator=generator)
                total, count = 0.0, 0
                for step in range(steps_per_epoch):
                    index = order[step * config.batch_size:(step + 1) * config.batch_size]
                    if len(index) < 2:  # BatchNorm needs more than one sample
                        continue
                    xb, yb = x_train[index], y_train[index]
                    if data.augment:
                        xb = _augment(xb, generator)
                    xb, yb = xb.to(device).contiguous(memory_format=layout), yb.to(device)
                    with hold_shared(slot), governed.step():
                        loss = loss_fn(model(xb), yb)
                        loss_value = float(loss.detach())
                        if not math.isfinite(loss_value):
                            raise TrainingDiverged(f"loss became {loss_value} at epoch {epoch + 1}, "
                                                   f"step {step + 1}")
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                    scheduler.step()
                    total += loss_value * len(index)
                    count += len(index)
                history.append(total / max(1, count))
                if config.bn_calibration:
                    calibrate_batchnorm(model, calibration, max(config.batch_size, 256), device, slot,
                                        governed)
                accuracy = evaluate(model, x_eval, y_eval, device=device, slot=slot,
                                    threads=governed)
                accuracies.append(accuracy)
                logger.debug("epoch %d: loss %.4f, accuracy %.4f", epoch + 1, history[-1], accuracy)
                if on_epoch is not None:
                    on_epoch(epoch, accuracy)
        finally:
            torch.set_num_threads(previous_threads)
    return TrainResult(val_accuracy=accuracies[-1], val_accuracy_per_epoch=tuple(accuracies),
                       final_loss=history[-1], train_time_s=time.perf_counter() - start,
                       epochs=config.epochs, history=tuple(history),
                       threads=(governed.usage() - use_before).mean_threads,
                       waited_s=(slot.shared_waited_s if slot is not None else 0.0) - waited_before)


def proxy_seconds(step_s: float, n_train: int, n_val: int, batch: int, epochs: int) -> float:
    """Seconds of ``epochs`` epochs at ``step_s`` per training step: every epoch trains
    ``ceil(n_train / batch)`` steps and validates ``n_val`` images, a forward pass costing about
    a third of a step."""
    return epochs * (math.ceil(n_train / batch) + n_val / batch / 3) * step_s


ESTIMATE_SECONDS_PER_MODEL = 0.5
"""Seconds of training steps each model of :func:`expected_seconds` is timed for (at least 3
steps, at most 50): long enough that a burst of other work on the host is averaged into the
estimate, not taken as its whole."""


def expected_seconds(models: list[nn.Module], data: DataSplits, config: TrainConfig,
                     threads: int | ThreadGovernor | None = None,
                     seconds_per_model: float | None = None) -> float:
    """Expected seconds of one full proxy training (``config.epochs`` epochs of ``data``): the
    median over ``models`` of their mean time per training step (steps after one to warm up,
    on copies, for ``seconds_per_model``, default :data:`ESTIMATE_SECONDS_PER_MODEL`), scaled to the epochs' steps, plus validation at a
    third of a step's cost per image. Takes a few seconds; for the estimate printed before a
    search starts. ``threads``: as :func:`train_model` takes them (the steps are timed as
    training will run them)."""
    batch = min(config.batch_size, len(data.y_train))
    budget = ESTIMATE_SECONDS_PER_MODEL if seconds_per_model is None else seconds_per_model
    per_trial = []
    previous_threads = torch.get_num_threads()
    governed = threads if isinstance(threads, ThreadGovernor) else governor(threads or None)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            layout = training_memory_format("cpu")  # as training lays out weights and inputs
            for model in models:
                governed.begin()  # each model's steps as a trial's training would run them
                net = copy.deepcopy(model).to(memory_format=layout).train()
                optimizer = make_optimizer(net, config)  # the optimizer training uses
                xb, yb = data.x_train[:batch], data.y_train[:batch]
                times: list[float] = []
                with conv_grads.installed(net):  # as training does on a CPU
                    while len(times) < 51 and (len(times) < 4 or sum(times[1:]) < budget):
                        start = time.perf_counter()
                        inputs = (_augment(xb, torch.Generator().manual_seed(len(times)))
                                  if data.augment else xb)
                        with governed.step():
                            loss = nn.functional.cross_entropy(
                                net(inputs.contiguous(memory_format=layout)), yb)
                            optimizer.zero_grad(set_to_none=True)
                            loss.backward()
                            optimizer.step()
                        times.append(time.perf_counter() - start)
                per_trial.append(proxy_seconds(statistics.fmean(times[1:]), len(data.y_train),
                                               len(data.y_val), batch, config.epochs))
    finally:
        torch.set_num_threads(previous_threads)
    return statistics.median(per_trial)


@dataclass(frozen=True)
class FinalTraining:
    """A network trained in full on train + validation, evaluated on the test split."""

    model: nn.Module
    test_accuracy: float
    report: str
    result: TrainResult


def check_fits(arch: Arch, data: DataSplits) -> None:
    """Raise ``ValueError`` unless ``arch`` takes ``data``'s images and classes."""
    shape = (data.channels, data.resolution, len(data.classes))
    if (arch.in_channels, arch.resolution, arch.num_classes) != shape:
        raise ValueError(f"the architecture expects {arch.in_channels}x{arch.resolution}x"
                         f"{arch.resolution} inputs and {arch.num_classes} classes but the data has "
                         f"{shape[0]}x{shape[1]}x{shape[1]} and {shape[2]}; use --dataset/--resolution "
                         f"to match")


def train_final(arch: Arch, data: DataSplits, config: TrainConfig, seed: int = 0,
                device: str = "cpu", threads: int | None = None,
                on_epoch: Callable[[int, float], None] | None = None,
                memory_check: bool = True) -> FinalTraining:
    """Build ``arch``, train it on train + validation and report test accuracy with a
    per-class classification report. ``on_epoch(epoch, test_accuracy)`` follows progress.

    Raises ``ValueError`` when the architecture does not fit the data or the device is absent.
    """
    from sklearn.metrics import classification_report  # deferred: scikit-learn is slow to import


    check_fits(arch, data)
    check_device(device)
    if memory_check:
        check_arch(arch, config.batch_size, training=True, device=device)
    model = build_model(arch, seed=seed)
    result = train_model(model, data, config, seed=seed, device=device, threads=threads,
                         on_epoch=on_epoch, train_on_val=True)
    model.cpu().eval()
    with torch.no_grad():
        predictions = torch.cat([model(data.x_test[i:i + 512]).argmax(1)
                                 for i in range(0, len(data.y_test), 512)])
    accuracy = float((predictions == data.y_test).float().mean()) if len(data.y_test) else 0.0
    report = classification_report(data.y_test.numpy(), predictions.numpy(),
                                   labels=list(range(len(data.classes))),
                                   target_names=list(data.classes), digits=4, zero_division=0)
    return FinalTraining(model, accuracy, report, result)
