"""One search trial: sample an architecture, count it, time it, train it, and store what it
measured on the trial (:class:`nasbench.study.trial_record.TrialRecord`). The figures come from an
evaluator: :class:`LocalEvaluator` trains and times on this machine,
:class:`TableEvaluator` looks them up in a bench table."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import optuna
from optuna.trial import TrialState

from nasbench.spec.arch import Arch
from nasbench.nn.build import build_model, count_params
from nasbench.train.data import DataSplits
from nasbench.nn.flops import count_flops
from nasbench.interrupts import SafeInterrupts
from nasbench.measure.conditions import Conditions
from nasbench.errors import SearchError
from nasbench.measure.latency import DEFAULT_CLOCK, LatencyResult, LatencyStats, measure_latency
from nasbench.errors import LatencyModelError
from nasbench.nn.memory import check_arch
from nasbench.study.pruners import ParetoPruner
from nasbench.measure.quiet import QuietSlot, hold_exclusive
from nasbench.study.trial_record import TrialRecord
from nasbench.study.rules import trial_counted
from nasbench.workflows.loading import accuracy_table, latency_model_of
from nasbench.workflows.settings import SearchConfig, StudySettings
from nasbench.train.proxy import train_model
from search_spaces import get_space

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Measured:
    """An architecture built, counted and timed as a search trial does it."""

    model: Any
    params: int
    macs: int
    latency: LatencyResult
    seconds: float
    waited_s: float = 0.0
    """Seconds the measurement waited for the quiet slot (training in other processes)."""
    timed_out: bool = False
    """The wait ran out (:data:`nasbench.measure.quiet.MAX_WAIT_S`): taken beside other work."""


def measure_arch(arch: Arch, data: DataSplits, config: StudySettings, seed: int,
                 slot: QuietSlot | None = None) -> Measured:
    """Build ``arch`` (weights from ``seed``), count its params and multiply-adds, and time it
    with ``config``'s latency settings, holding the quiet ``slot`` alone while timing."""
    start = time.perf_counter()
    if config.memory_check:  # the trial fails with the reason instead of exhausting the machine
        check_arch(arch, config.train_config().batch_size,
                   training=True, device=config.device)
    model = build_model(arch, seed=seed)
    shape = (data.channels, data.resolution, data.resolution)
    params = count_params(model)
    macs = count_flops(model, (1, *shape), module_depth=0).total
    waited, timeouts = (slot.waited_s, slot.timeouts) if slot is not None else (0.0, 0)
    with hold_exclusive(slot):  # no training on this machine while we time
        latency = measure_latency(model, shape, device=config.device,
                                  threads=config.latency_threads, min_time_s=config.latency_time_s,
                                  warmup_s=0.05, precision=config.latency_precision,
                                  clock=config.latency_clock or DEFAULT_CLOCK)
    if slot is None:
        return Measured(model, params, macs, latency, time.perf_counter() - start)
    return Measured(model, params, macs, latency, time.perf_counter() - start,
                    slot.waited_s - waited, slot.timeouts > timeouts)


@dataclass(frozen=True)
class Trained:
    """What training gave: validation accuracy after each epoch, and the seconds it took."""

    val_acc_per_epoch: tuple[float, ...]
    train_time_s: float
    threads: float | None = None
    """Training threads per step, weighted by time (``None``: not trained here)."""
    waited_s: float = 0.0
    """Seconds the training steps waited for measurements of other processes."""


class StopEarly(Exception):
    """Raised from a trial's epoch report when the pruner stops it; ``seconds`` is the training
    time spent so far (set by the evaluator)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seconds = 0.0
        self.threads: float | None = None
        self.waited_s = 0.0


class Evaluator(Protocol):
    """How a trial gets its figures: :class:`LocalEvaluator` trains and times for real;
    :class:`TableEvaluator` looks them up in a bench table."""

    def measure(self, arch: Arch, seed: int) -> Measured:
        """Build, count and time ``arch``."""
        ...

    def train(self, arch: Arch, measured: Measured, seed: int,
              on_epoch: Callable[[int, float], None]) -> Trained:
        """Train it, reporting validation accuracy after each epoch (``on_epoch`` may raise)."""
        ...


class LocalEvaluator:
    """Trains and times on this machine, holding the quiet ``slot`` as it goes."""

    def __init__(self, config: SearchConfig, data: DataSplits, slot: QuietSlot | None = None,
                 interrupts: SafeInterrupts | None = None) -> None:
        self.config, self.data, self.slot = config, data, slot
        self.interrupts = interrupts or SafeInterrupts()
        self.train_config = config.train_config()

    def measure(self, arch: Arch, seed: int) -> Measured:
        """See :func:`measure_arch` (Ctrl-C stops it at once)."""
        with self.interrupts.allowed():
            return measure_arch(arch, self.data, self.config, seed, self.slot)

    def train(self, arch: Arch, measured: Measured, seed: int,
              on_epoch: Callable[[int, float], None]) -> Trained:
        """Proxy training of the measured model (see :func:`nasbench.train.proxy.train_model`);
        Ctrl-C stops it at once, but not in the middle of ``on_epoch``'s storage write."""
        start = time.perf_counter()
        threads = self.config.training_threads()
        used = threads.usage()
        waited = self.slot.shared_waited_s if self.slot is not None else 0.0
        try:
            with self.interrupts.allowed():
                result = train_model(measured.model, self.data, self.train_config, seed=seed,
                                     device=self.config.device, threads=threads,
                                     on_epoch=self.interrupts.held(on_epoch), slot=self.slot)
        except StopEarly as stop:
            stop.seconds = time.perf_counter() - start
            stop.threads = (threads.usage() - used).mean_threads
            stop.waited_s = (self.slot.shared_waited_s if self.slot is not None else 0.0) - waited
            raise
        return Trained(result.val_accuracy_per_epoch, result.train_time_s, result.threads,
                       result.waited_s)


class TableEvaluator:
    """Looks each trial up in a bench table: one seed's accuracy curve, one pass's latency.

    The draws come from a generator seeded by ``(seed, trial seed)``: a replay is
    deterministic for its seed.
    """

    def __init__(self, table: Any, meta: dict[str, Any], seed: int) -> None:
        self.rows = {row["arch"]: row for row in table.to_dict(orient="records") if row["complete"]}
        self.meta, self.seed = meta, seed
        self.conditions = Conditions(**{f: meta["conditions"].get(f) for f in
                                        Conditions.__dataclass_fields__})

    def _row(self, arch: Arch) -> dict[str, Any]:
        try:
            return self.rows[arch.to_string()]
        except KeyError:
            raise SearchError(f"architecture {arch.to_string()} is not in the bench table; replay "
                              f"a table of the same space and data") from None

    def measure(self, arch: Arch, seed: int) -> Measured:
        """The latency of one pass, drawn at random (params and MACs as measured)."""
        row = self._row(arch)
        p = int(np.random.default_rng([self.seed, seed, 1]).integers(self.meta["passes"])) + 1
        stats = LatencyStats(median_ms=float(row[f"latency_ms_pass{p}"]), p90_ms=math.nan,
                             iqr_ms=float(row[f"latency_iqr_ms_pass{p}"]), cv=math.nan,
                             mean_ms=math.nan, min_ms=math.nan,
                             samples=int(row[f"latency_samples_pass{p}"]))
        return Measured(None, int(row["params"]), int(row["macs"]),
                        LatencyResult(stats, 1, self.conditions), float(row["measure_time_s"]))

    def train(self, arch: Arch, measured: Measured, seed: int,
              on_epoch: Callable[[int, float], None]) -> Trained:
        """One seed's recorded validation curve, epoch by epoch (so an early stop sees it)."""
        row = self._row(arch)
        present = [k for k in range(self.meta["seeds"])  # an imported table may lack some
                   if isinstance(row.get(f"val_acc_per_epoch_seed{k}"), (list, tuple, np.ndarray))]
        k = present[int(np.random.default_rng([self.seed, seed, 2]).integers(len(present)))]
        curve = tuple(float(a) for a in row[f"val_acc_per_epoch_seed{k}"])
        per_epoch = float(row["train_time_s"]) / len(curve)
        for epoch, accuracy in enumerate(curve):
            try:
                on_epoch(epoch, accuracy)
            except StopEarly as stop:
                stop.seconds = per_epoch * (epoch + 1)
                raise
        return Trained(curve, float(row["train_time_s"]))


class MeasuredTable(TableEvaluator):
    """A search whose accuracies come from a bench table (one seed's, drawn as a replay draws
    it) and whose latency is measured here, for real (:func:`measure_arch`)."""

    def __init__(self, table: Any, meta: dict[str, Any], config: SearchConfig, data: DataSplits,
                 slot: QuietSlot | None = None, interrupts: SafeInterrupts | None = None) -> None:
        super().__init__(table, meta, config.seed)
        self.local = LocalEvaluator(config, data, slot, interrupts)

    def measure(self, arch: Arch, seed: int) -> Measured:
        """Counted and timed here (Ctrl-C stops it at once)."""
        self._row(arch)  # an architecture the table lacks fails before it is timed
        return self.local.measure(arch, seed)


def evaluator_for(config: SearchConfig, data: DataSplits, slot: QuietSlot | None = None,
                  interrupts: SafeInterrupts | None = None) -> Evaluator:
    """How a search's trials get their figures: trained and timed here, or, with
    ``accuracy_from``, accuracy from the table and latency timed here."""
    if config.accuracy_from is None:
        return LocalEvaluator(config, data, slot, interrupts)
    table, meta = accuracy_table(config)
    return MeasuredTable(table, meta, config, data, slot, interrupts)


RECALIBRATE_S = 30.0
"""Seconds between two timings of the latency model's reference architecture in a search."""


class Objective:
    """The trial function: sample, count, measure, train; stores a :class:`TrialRecord` on
    the trial. The figures come from ``evaluator`` (real, or a bench table in a replay)."""

    def __init__(self, config: SearchConfig, shape: Any, evaluator: Evaluator,
                 pruner: ParetoPruner | None = None) -> None:
        self.config = config
        self.shape = shape
        self.evaluator = evaluator
        self.pruner = pruner
        self.space = get_space(config.space)
        self.epochs = config.train_config().epochs
        self.latency_model = latency_model_of(config, shape)
        self._calibrated_at = -math.inf

    def _predict(self, arch: Arch) -> float | None:
        """The latency model's prediction for ``arch`` (``None`` without a model, or for an
        architecture with a part the model never measured: it is then measured as usual)."""
        if self.latency_model is None:
            return None
        if time.perf_counter() - self._calibrated_at > RECALIBRATE_S:  # follow the host's speed
            scale = self.latency_model.calibrate(self.latency_model.settings(),  # checked at load
                                                 getattr(self.evaluator, "slot", None))
            self._calibrated_at = time.perf_counter()
            logger.info("latency model: host speed now x%.3f of the fit's", scale)
        try:
            return self.latency_model.predict(arch)
        except LatencyModelError as exc:
            logger.info("no prediction: %s", exc)
            return None

    def _constraints(self, params: int, macs: int, latency_ms: float) -> dict[str, float]:
        c = self.config
        limits = {"latency_ms": (latency_ms, c.max_latency_ms), "params": (params, c.max_params),
                  "macs": (macs, c.max_macs)}
        return {k: float(v - limit) for k, (v, limit) in limits.items() if limit is not None}

    def _reuse(self, trial: optuna.Trial, arch: str,
               others: Sequence[optuna.trial.FrozenTrial]) -> tuple[float, float] | None:
        for other in others:
            if (other.state == TrialState.COMPLETE and other.user_attrs.get("arch") == arch
                    and other.number != trial.number):
                earlier = TrialRecord.from_trial(other)
                copy = dataclasses.replace(earlier.measured(), measure_time_s=0.0,
                                           reused_from=earlier.reused_from if earlier.reused_from
                                           is not None else other.number)
                copy.save(trial)
                for key, value in other.constraints.items():
                    trial.set_constraint(key, value)
                logger.info("trial %d: %s already evaluated in trial %d, reused", trial.number,
                            arch, other.number)
                assert other.values is not None
                return other.values[0], other.values[1]
        return None

    def __call__(self, trial: optuna.Trial) -> tuple[float, float]:
        try:
            others = trial.study.get_trials(deepcopy=False,  # one read for both questions
                                            states=(TrialState.COMPLETE, TrialState.RUNNING))
            self._check_budget(trial, others)
            return self._run(trial, others)
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt:
            TrialRecord(fail_reason="interrupted by the user (Ctrl-C); not retried").save(trial)
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            TrialRecord(fail_reason=reason).save(trial)
            logger.warning("trial %d failed: %s", trial.number, reason)
            raise

    def _check_budget(self, trial: optuna.Trial, others: Sequence[optuna.trial.FrozenTrial]) -> None:
        """With several workers, two can start the last trial at once: the later one stops.
        ``others``: the study's complete and running trials."""
        ahead = sum(t.number < trial.number and trial_counted(t) for t in others)
        if ahead >= self.config.budget:
            TrialRecord(note="not run: other workers reached the budget").save(trial)
            raise optuna.TrialPruned("budget reached by other workers")

    def _run(self, trial: optuna.Trial,
             others: Sequence[optuna.trial.FrozenTrial]) -> tuple[float, float]:
        arch = self.space.sample(trial, self.shape)
        key = arch.to_string()
        TrialRecord(arch=key).save(trial)
        reused = self._reuse(trial, key, others)
        if reused is not None:
            return reused
        predicted = self._predict(arch)
        if predicted is not None:
            TrialRecord(latency_predicted_ms=predicted).save(trial)
            limit = self.config.max_latency_ms
            assert limit is not None
            if predicted > limit * (1 + self.latency_model.error):
                TrialRecord(predicted_only=True).save(trial)
                for name, value in self._constraints(0, 0, predicted).items():
                    trial.set_constraint(name, value if name == "latency_ms" else 0.0)
                logger.info("trial %d: predicted %.3f ms, over %.3f ms by more than the model's "
                            "error: not trained", trial.number, predicted, limit)
                return 0.0, predicted  # infeasible: never on a front, not in the budget
        seed = self.config.seed + trial.number
        measured = self.evaluator.measure(arch, seed)
        latency = measured.latency
        if predicted is not None:  # what is measured now sets the level of later predictions
            assert self.latency_model is not None
            level = self.latency_model.observe(arch, latency.median_ms)
            logger.info("latency model: predicted %.3f ms, measured %.3f ms; level now x%.3f",
                        predicted, latency.median_ms, level)
        TrialRecord(params=measured.params, macs=measured.macs, latency=latency,
                    measure_time_s=measured.seconds, wait_s=measured.waited_s,
                    wait_timed_out=measured.timed_out or None).save(trial)
        for name, value in self._constraints(measured.params, measured.macs, latency.median_ms).items():
            trial.set_constraint(name, value)
        epochs: list[float] = []

        def on_epoch(epoch: int, accuracy: float) -> None:
            epochs.append(accuracy)
            TrialRecord(val_acc_per_epoch=tuple(epochs)).save(trial)
            if self.pruner is not None and epoch + 1 < self.epochs:
                reason = self.pruner.check(trial.study, trial)
                if reason is not None:
                    raise StopEarly(reason)

        try:
            trained = self.evaluator.train(arch, measured, seed, on_epoch)
        except StopEarly as stop:  # a complete trial, its accuracy that of its last epoch
            TrialRecord(train_time_s=stop.seconds, stopped_early=True, stop_reason=stop.reason,
                        train_threads=stop.threads,
                        wait_s=measured.waited_s + stop.waited_s).save(trial)
            return epochs[-1], latency.median_ms
        TrialRecord(train_time_s=trained.train_time_s, stopped_early=False,
                    train_threads=trained.threads,
                    wait_s=measured.waited_s + trained.waited_s).save(trial)
        return trained.val_acc_per_epoch[-1], latency.median_ms
