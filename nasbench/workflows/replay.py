"""Replay: the real search (samplers, constraints, study, trial record) run against a bench
table instead of training and timing, so a sampler's quality is measured in seconds.

Each replayed trial draws one of the table's training seeds for its accuracy curve and one of
its latency passes, so the search sees the noise a real one would. Its quality is the
hypervolume of the architectures it trained fully (those a search may put on its front; a trial
stopped early never is), taken at the table's true figures (mean
validation accuracy over seeds, median latency over passes), as a fraction of the hypervolume
of the table's exact front, both against the table's one reference point.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import optuna
import pandas as pd

from nasbench.study.pruners import DEFAULT_PRUNER, make_pruner
from nasbench.study.trial_record import TrialRecord
from nasbench.study.results import hypervolume
from nasbench.study.rules import eligible_mask, measured
from nasbench.bench.table import load_bench
from nasbench.errors import SearchError
from nasbench.workflows.objective import Objective, TableEvaluator
from nasbench.study.samplers import SAMPLERS, make_sampler
from nasbench.workflows.search import drive
from nasbench.workflows.settings import SearchConfig
from search_spaces import DataShape

CHECKPOINTS: tuple[int, ...] = (10, 25, 50, 100, 200, 500, 1000, 2000, 5000)
LIMIT_QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5)
"""Latency limits of the regret: these quantiles of the table's feasible latencies."""


def table_epochs(table: pd.DataFrame) -> int:
    """The epochs each architecture of a bench table was trained (its protocol)."""
    return int(table["epochs"].dropna().iloc[0])


def cut_to_epochs(table: pd.DataFrame, meta: dict[str, Any], epochs: int) -> pd.DataFrame:
    """The table as a search that trains ``epochs`` epochs would see it: every seed's curve cut
    to its first ``epochs`` and the training seconds in proportion, while the true figures
    (``val_acc_mean``, the latencies) stay the full training's. A replay of it therefore
    scores a shorter proxy by the table's truth: which architectures it finds, not what
    accuracy its shorter training shows."""
    full = table_epochs(table)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= full:
        raise SearchError(f"--epochs must be between 1 and the table's {full}, got {epochs}")
    out = table.copy()
    for k in range(int(meta["seeds"])):
        column = f"val_acc_per_epoch_seed{k}"
        out[column] = [np.asarray(c, float)[:epochs] if isinstance(c, (list, tuple, np.ndarray))
                       else c for c in out[column]]
    out["train_time_s"] = out["train_time_s"] * epochs / full
    out["epochs"] = epochs
    return out


@dataclass(frozen=True)
class ReplayRun:
    """One replayed search: its quality at each checkpoint, simulated and real time."""

    sampler: str
    repeat: int
    fractions: dict[int, float]
    simulated_s: dict[int, float]
    epochs: dict[int, int]
    trials: int
    real_s: float
    numbers: list[str] = field(default_factory=list, repr=False)
    trained_fully: list[str] = field(default_factory=list, repr=False)
    regrets: dict[int, tuple[float, ...]] = field(default_factory=dict)
    """Per checkpoint, :func:`accuracy_regret` at each of :data:`LIMIT_QUANTILES`."""


def feasible_rows(table: pd.DataFrame,
                  feasible: Callable[[pd.DataFrame], np.ndarray] | None = None) -> pd.DataFrame:
    """The table's complete rows that ``feasible`` keeps (all complete rows without it)."""
    keep = table["complete"].to_numpy(bool)
    return table[keep & feasible(table)] if feasible is not None else table[keep]


def exact_front_hypervolume(table: pd.DataFrame, meta: dict[str, Any],
                            feasible: Callable[[pd.DataFrame], np.ndarray]) -> float:
    """Hypervolume of the table's feasible architectures (true figures) at its reference point."""
    ok = feasible_rows(table, feasible)
    ref = meta["reference_point"]
    return hypervolume(ok["val_acc_mean"].to_numpy(float), ok["latency_ms"].to_numpy(float),
                       ref["latency_ms"], ref["val_acc"])


def hv_fraction(archs: list[str], table: pd.DataFrame, meta: dict[str, Any],
                feasible: Callable[[pd.DataFrame], np.ndarray] | None = None) -> float:
    """Hypervolume of ``archs`` at the table's true figures, as a fraction of the table's exact
    front (architectures not in the table are left out)."""
    feasible = feasible or (lambda frame: np.ones(len(frame), bool))
    whole = exact_front_hypervolume(table, meta, feasible)
    ok = feasible_rows(table[table["arch"].isin(set(archs))], feasible)
    ref = meta["reference_point"]
    found = hypervolume(ok["val_acc_mean"].to_numpy(float), ok["latency_ms"].to_numpy(float),
                        ref["latency_ms"], ref["val_acc"])
    return found / whole if whole > 0 else math.nan


def search_hv_fraction(frame: pd.DataFrame, table: pd.DataFrame, meta: dict[str, Any],
                       constraints: dict[str, Any] | None = None) -> float:
    """The hypervolume of a search's front (its eligible trials, :func:`nasbench.study.rules.eligible_mask`)
    at a bench table's true figures, as a fraction of the table's exact front under the same
    ``constraints`` (``max_latency_ms``, ``max_params``, ``max_macs``): what the search found
    of what it could have found."""
    archs = list(dict.fromkeys(frame.loc[eligible_mask(frame), "arch"]))
    limits = {k: v for k, v in (constraints or {}).items() if v is not None}
    return hv_fraction(archs, table, meta, feasible_under(SearchConfig(**limits)))


def latency_limits(table: pd.DataFrame, feasible: Callable[[pd.DataFrame], np.ndarray],
                   quantiles: tuple[float, ...] = LIMIT_QUANTILES) -> tuple[float, ...]:
    """Latency limits at ``quantiles`` of the table's feasible architectures' latencies."""
    ok = feasible_rows(table, feasible)
    return tuple(float(v) for v in np.quantile(ok["latency_ms"].to_numpy(float), quantiles))


def accuracy_regret(archs: list[str], table: pd.DataFrame, limits: tuple[float, ...],
                    feasible: Callable[[pd.DataFrame], np.ndarray] | None = None) -> tuple[float, ...]:
    """For each latency limit: the best accuracy of the table's feasible architectures within it,
    minus the best of ``archs`` within it (true figures; all of it when ``archs`` has none
    there). The user's question, "the best accuracy for my latency budget", at several budgets:
    0 is the best answer, and unlike the hypervolume (whose reference accuracy is 0) a point
    of accuracy lost counts as a point."""
    ok = feasible_rows(table, feasible)
    mine = ok[ok["arch"].isin(set(archs))]
    out = []
    for limit in limits:
        best = ok.loc[ok["latency_ms"] <= limit, "val_acc_mean"].max()
        found = mine.loc[mine["latency_ms"] <= limit, "val_acc_mean"].max()
        out.append(float(best - (found if found == found else 0.0)) if best == best else math.nan)
    return tuple(out)


def feasible_under(config: SearchConfig) -> Callable[[pd.DataFrame], np.ndarray]:
    """A mask function: the table's rows that meet ``config``'s constraints (at true figures)."""
    def feasible(frame: pd.DataFrame) -> np.ndarray:
        ok = np.ones(len(frame), bool)
        for column, limit in (("latency_ms", config.max_latency_ms), ("params", config.max_params),
                              ("macs", config.max_macs)):
            if limit is not None:
                ok &= frame[column].to_numpy(float) <= limit
        return ok
    return feasible


def replay_once(table: pd.DataFrame, meta: dict[str, Any], config: SearchConfig,
                checkpoints: tuple[int, ...], repeat: int = 0,
                margin_z: float | None = None,
                sampler: optuna.samplers.BaseSampler | None = None) -> ReplayRun:
    """Run one search with ``config`` (sampler, seed, budget, constraints) against the table
    (``margin_z``: the Pareto pruner's noise margin in standard deviations, when not its own;
    ``sampler``: an Optuna sampler to try instead of ``config.sampler``'s)."""
    if not meta.get("whole_space"):
        raise SearchError("replay needs a table of a whole enumerable space; this one holds a "
                          "--sample of it (browse it with python cli.py results)")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    shape = DataShape(*meta["shape"])
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=sampler or make_sampler(config.sampler, config.seed),
                                storage=optuna.storages.InMemoryStorage())
    objective = Objective(config, shape, TableEvaluator(table, meta, config.seed),
                          make_pruner(config.pruner or DEFAULT_PRUNER, int(meta["n_val"]), margin_z))
    start = time.perf_counter()
    drive(study, objective, config)
    real = time.perf_counter() - start
    feasible = feasible_under(config)
    limits = latency_limits(table, feasible)
    seen: list[str] = []  # what the budget counts: every architecture evaluated
    trained_fully: list[str] = []  # what may be on the search's front (not stopped early)
    fractions: dict[int, float] = {}
    simulated: dict[int, float] = {}
    epochs: dict[int, int] = {}
    regrets: dict[int, tuple[float, ...]] = {}
    elapsed, trained = 0.0, 0
    marks = [c for c in checkpoints if c <= config.budget] + [config.budget]
    for trial in study.get_trials(deepcopy=False):
        record = TrialRecord.from_trial(trial)
        if not measured(record, trial.state.name):
            continue
        seen.append(record.arch)
        if not record.stopped_early:
            trained_fully.append(record.arch)
        elapsed += (record.measure_time_s or 0.0) + (record.train_time_s or 0.0)
        trained += len(record.val_acc_per_epoch)
        if len(seen) in marks:
            fractions[len(seen)] = hv_fraction(trained_fully, table, meta, feasible)
            simulated[len(seen)] = elapsed
            epochs[len(seen)] = trained
            regrets[len(seen)] = accuracy_regret(trained_fully, table, limits, feasible)
    return ReplayRun(config.sampler, repeat, fractions, simulated, epochs, len(study.trials), real,
                     seen, trained_fully, regrets)


def replay(table: pd.DataFrame, meta: dict[str, Any], samplers: tuple[str, ...], budget: int,
           repeats: int, seed: int = 0, constraints: dict[str, Any] | None = None,
           checkpoints: tuple[int, ...] = CHECKPOINTS, pruner: str = DEFAULT_PRUNER,
           margin_z: float | None = None) -> list[ReplayRun]:
    """Every sampler, ``repeats`` independent searches each (seeds ``seed + r``), with the
    early stop ``pruner`` (``pareto`` or ``none``; ``margin_z`` as in :func:`replay_once`)."""
    if isinstance(budget, bool) or not 1 <= budget <= 100_000:
        raise SearchError(f"--budget must be a whole number of architectures between 1 and "
                          f"100000, got {budget}")
    if not 1 <= repeats <= 1000:
        raise SearchError(f"--repeats must be between 1 and 1000, got {repeats}")
    unknown = [s for s in samplers if s not in SAMPLERS]
    if unknown or not samplers:
        raise SearchError(f"unknown sampler {', '.join(unknown) or '(none)'}; choose from "
                          f"{', '.join(SAMPLERS)}")
    runs = []
    for sampler in samplers:
        for r in range(repeats):
            config = SearchConfig(space=meta["space"], dataset=meta["dataset"], sampler=sampler,
                                  seed=seed + r, budget=min(budget, meta["complete"]),
                                  epochs=table_epochs(table), pruner=pruner,
                                  **(constraints or {}))
            config.validate()
            runs.append(replay_once(table, meta, config, checkpoints, r, margin_z))
    return runs


def summarize(runs: list[ReplayRun]) -> pd.DataFrame:
    """Per sampler and checkpoint: median and interquartile range of the hypervolume fraction
    over repeats, median simulated seconds, real seconds per replayed trial."""
    rows = []
    for sampler in dict.fromkeys(r.sampler for r in runs):
        mine = [r for r in runs if r.sampler == sampler]
        per_trial = sum(r.real_s for r in mine) / max(1, sum(r.trials for r in mine))
        for mark in sorted({m for r in mine for m in r.fractions}):
            values = np.array([r.fractions[mark] for r in mine if mark in r.fractions])
            sims = np.array([r.simulated_s[mark] for r in mine if mark in r.simulated_s])
            q25, q50, q75 = np.percentile(values, [25, 50, 75])
            epochs = np.array([r.epochs[mark] for r in mine if mark in r.epochs])
            regrets = np.array([r.regrets[mark] for r in mine if mark in r.regrets], float)
            rows.append({"sampler": sampler, "architectures": mark, "repeats": len(values),
                         "hv_fraction_median": q50, "hv_fraction_q25": q25, "hv_fraction_q75": q75,
                         "simulated_s_median": float(np.median(sims)),
                         "epochs_median": float(np.median(epochs)),
                         "real_s_per_trial": per_trial,
                         **{f"regret_q{round(100 * q)}_mean": (float(np.mean(regrets[:, i]))
                                                             if len(regrets) else math.nan)
                            for i, q in enumerate(LIMIT_QUANTILES)}})
    return pd.DataFrame(rows)


def runs_frame(runs: list[ReplayRun]) -> pd.DataFrame:
    """Every repeat at every checkpoint (the CSV of a replay)."""
    return pd.DataFrame([{"sampler": r.sampler, "repeat": r.repeat, "architectures": mark,
                          "hv_fraction": r.fractions[mark], "simulated_s": r.simulated_s[mark],
                          "epochs": r.epochs[mark],
                          **{f"regret_q{round(100 * q)}": v
                             for q, v in zip(LIMIT_QUANTILES, r.regrets.get(mark, ()))},
                          "trials": r.trials, "real_s": r.real_s}
                         for r in runs for mark in sorted(r.fractions)])


@dataclass(frozen=True)
class ReplayReport:
    """A replay of a bench table: every run, their summary, and what they are measured against."""

    table: str
    meta: dict[str, Any]
    runs: list[ReplayRun]
    summary: pd.DataFrame
    exact_hypervolume: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the table, its reference point and exact front, the summary rows."""
        return {"table": self.table, "reference_point": self.meta["reference_point"],
                "exact_front_hypervolume": self.exact_hypervolume,
                "summary": self.summary.to_dict(orient="records")}


def replay_table(path: str, samplers: tuple[str, ...], budget: int, repeats: int, seed: int = 0,
                 constraints: dict[str, Any] | None = None, pruner: str = DEFAULT_PRUNER,
                 margin_z: float | None = None, epochs: int | None = None) -> ReplayReport:
    """Load the bench table at ``path`` and :func:`replay` it (``ValueError`` if it is not one);
    with ``epochs``, as searches of that many epochs (:func:`cut_to_epochs`)."""
    table, meta = load_bench(path)
    constraints = {k: v for k, v in (constraints or {}).items() if v is not None}
    for name, value in constraints.items():  # before the table is asked what meets them
        if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
            raise SearchError(f"--{name.replace('_', '-')} must be a positive, finite number, got {value}")
    if feasible_rows(table, feasible_under(SearchConfig(**constraints))).empty:
        done = feasible_rows(table)
        given = ", ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in constraints.items())
        raise SearchError(f"no architecture of the table meets {given} (the fastest takes {done['latency_ms'].min():.3f} ms, the smallest has "
                          f"{int(done['params'].min()):,} parameters and {int(done['macs'].min()):,} "
                          f"multiply-adds); loosen the constraints")
    seen = table if epochs is None else cut_to_epochs(table, meta, epochs)
    runs = replay(seen, meta, samplers, budget, repeats, seed, constraints, pruner=pruner,
                  margin_z=margin_z)
    exact = exact_front_hypervolume(table, meta, feasible_under(SearchConfig(**constraints)))
    return ReplayReport(str(path), meta, runs, summarize(runs), exact)
