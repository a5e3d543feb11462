"""Reading what a study's settings name: the dataset, a bench table the accuracies come
from, a latency model, each checked against the settings as it is read. The settings
themselves (:mod:`nasbench.workflows.settings`) are plain data and read nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from nasbench.bench.files import load_bench
from nasbench.errors import LatencyModelError, SearchError
from nasbench.latency_model.model import LatencyModel, load_model
from nasbench.measure.conditions import allocator_state, current_conditions
from nasbench.measure.stats import DEFAULT_CLOCK
from nasbench.train.data import DataSplits, load_dataset, shape_only
from nasbench.workflows.settings import SearchConfig, StudySettings
from search_spaces import DataShape


def check_sources(config: StudySettings) -> None:
    """:meth:`validate` ``config``, then read and check what it names (a search's bench table
    and latency model): :class:`SearchError` naming the problem, before anything is written."""
    config.validate()
    if isinstance(config, SearchConfig):
        if config.accuracy_from is not None:
            accuracy_table(config)
        if config.latency_model is not None:
            latency_model_of(config)


def latency_model_of(config: SearchConfig, shape: Any = None) -> LatencyModel | None:
    """The latency model of ``config.latency_model`` (``None`` without one), checked against this
    search: its space, the data ``shape`` when given, and the conditions latency is
    measured under here (:class:`SearchError` naming the difference)."""
    if config.latency_model is None:
        return None
    try:
        model = load_model(config.latency_model)
        if model.space != config.space:
            raise LatencyModelError(f"the latency model is of space {model.space}, the search "
                                    f"of {config.space}; fit one with --space {config.space}")
        if shape is not None and tuple(model.shape) != (shape.resolution, shape.channels,
                                                        shape.classes):
            here = (shape.resolution, shape.channels, shape.classes)
            raise LatencyModelError(
                f"the latency model was fitted for input {tuple(model.shape)} (resolution, "
                f"channels, classes), the search's data is {here}; fit one with this "
                f"--dataset and --resolution")
        model.check_conditions(current_conditions(config.device, config.latency_threads, 1,
                                                  "float32", "contiguous", allocator_state(),
                                                  config.latency_clock or DEFAULT_CLOCK).to_dict())
    except LatencyModelError as exc:
        raise SearchError(str(exc)) from None
    return model


def accuracy_table(config: SearchConfig) -> tuple[Any, dict[str, Any]]:
    """The table and description of ``config.accuracy_from``, checked against this search
    (:class:`SearchError` naming the problem)."""
    try:
        table, meta = load_bench(str(config.accuracy_from))
    except ValueError as exc:
        raise SearchError(f"--accuracy-from: {exc}") from None
    if meta["space"] != config.space:
        raise SearchError(f"--accuracy-from {config.accuracy_from} is a table of space "
                          f"{meta['space']}, the search is of {config.space}; give --space "
                          f"{meta['space']} or a table of {config.space}")
    if config.dataset != meta["dataset"]:
        raise SearchError(f"--accuracy-from {config.accuracy_from} holds accuracies on "
                          f"{meta['dataset']}, the search is on {config.dataset}; give --dataset "
                          f"{meta['dataset']} (or leave --dataset out)")
    if not meta.get("whole_space"):
        raise SearchError(f"--accuracy-from {config.accuracy_from} holds a sample of the space, "
                          f"not all of it; give a table of the whole space")
    return table, meta


def with_table_dataset(config: SearchConfig) -> SearchConfig:
    """``config`` with the dataset of its ``accuracy_from`` table (the dataset when it has
    none, or when it is the default and the table's is another)."""
    if config.accuracy_from is None or config.dataset != "digits":
        return config
    try:
        return dataclasses.replace(config, dataset=str(load_bench(config.accuracy_from)[1]["dataset"]))
    except ValueError as exc:
        raise SearchError(f"--accuracy-from: {exc}") from None


def load_search_data(config: StudySettings,
                     on_progress: Callable[[str, int, int], None] | None = None) -> DataSplits:
    """The dataset of ``config`` (:class:`SearchError` on bad data or device; writes nothing
    but the decoded-image cache); for a search whose accuracies come from a table, a stand-in
    of the table's shape (:func:`nasbench.train.data.shape_only`)."""
    check_sources(config)
    if isinstance(config, SearchConfig) and config.accuracy_from is not None:
        _, meta = accuracy_table(config)
        return shape_only(f"{meta['dataset']} (accuracy from {config.accuracy_from})",
                          *meta["shape"], int(meta["n_val"]))
    try:
        data = load_dataset(config.dataset, config.data_dir, config.resolution, seed=config.seed,
                            cache_dir=Path(config.runs_dir) / ".cache", max_train=config.max_train,
                            max_val=config.max_val,
                            memory_check=config.memory_check, on_progress=on_progress)
    except ValueError as exc:
        raise SearchError(str(exc)) from None
    if isinstance(config, SearchConfig) and config.latency_model is not None:  # before any study is written
        latency_model_of(config, DataShape(data.resolution, data.channels, len(data.classes)))
    return data
