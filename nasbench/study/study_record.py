"""The study record: what nasbench stores on a study itself (not on its trials), defined once.

A search and a bench record their kind, space, dataset, settings and identity on the study
when they create it; a bench also its architectures and data shape; the validation split's
size and the latest confirmation come later. Every module reads them through
:meth:`StudyRecord.of` and writes them through :meth:`StudyRecord.save`, never by hand.

Attribute names are the field names (``identity`` is stored as ``config`` and ``version`` as
``nasbench_version``, as earlier versions wrote them), so every study written since 0.1 opens
unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Mapping

from nasbench.errors import DamagedValue

if TYPE_CHECKING:
    import optuna

SEARCH = "search"
BENCH = "bench"
KINDS = (SEARCH, BENCH)

_STORED_AS = {"identity": "config", "version": "nasbench_version"}
"""Fields stored under another attribute name (the name earlier versions used)."""


@dataclass(frozen=True)
class Confirmation:
    """One confirmation session: per trial number, the confirmed figures."""

    rounds: int
    seeds: int
    seconds: float
    conditions: dict[str, Any]
    trials: dict[int, dict[str, Any]]
    """number -> {latency_ms, ci_low_ms, ci_high_ms, round_ms: [...], val_acc_seeds: [...]}"""

    def to_attr(self) -> dict[str, Any]:
        """JSON-ready, for the study's user attribute (trial numbers as strings)."""
        return {**dataclasses.asdict(self), "trials": {str(k): v for k, v in self.trials.items()}}

    @classmethod
    def from_attr(cls, data: Mapping[str, Any] | None) -> Confirmation | None:
        """The inverse of :meth:`to_attr` (``None`` for a study never confirmed)."""
        if not data:
            return None
        return cls(rounds=int(data["rounds"]), seeds=int(data["seeds"]), seconds=float(data["seconds"]),
                   conditions=dict(data.get("conditions") or {}),
                   trials={int(k): v for k, v in data["trials"].items()})


_TEXT = ("kind", "space", "dataset", "version")


def _decoded(name: str, value: Any) -> Any:
    """A stored field's value as its type; raises when it is not of that type."""
    if name in ("objectives", "archs"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{name} must be a list of strings")
        return tuple(value)
    if name == "shape":
        if not isinstance(value, list) or len(value) != 3 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            raise ValueError("shape must be three positive whole numbers")
        return tuple(value)
    if name == "confirmation":
        return Confirmation.from_attr(value)
    if name in ("settings", "identity"):
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be an object")
        return dict(value)
    if name == "n_val":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError("n_val must be a positive whole number")
        return value
    if name in _TEXT and not isinstance(value, str):
        raise TypeError(f"{name} must be text")
    return value


@dataclass(frozen=True)
class StudyRecord:
    """What a study is: written once at creation (``identity`` last, which marks it set up),
    then ``n_val``, ``settings`` (a new budget) and ``confirmation`` as they change."""

    kind: str | None = None
    """``search`` or ``bench``; ``None`` for a study nasbench did not make (or not yet)."""
    space: str | None = None
    dataset: str | None = None
    settings: dict[str, Any] | None = None
    """Everything a worker joining the study needs (not where the study lives)."""
    identity: dict[str, Any] | None = None
    """The settings a resumed study must share; set last, so a study that has it is set up."""
    objectives: tuple[str, ...] | None = None
    version: str | None = None
    """The nasbench version that created the study."""
    n_val: int | None = None
    """The validation split's size: the accuracy intervals' sample size."""
    archs: tuple[str, ...] | None = None
    """A bench's architectures, in the order its trials index them."""
    shape: tuple[int, int, int] | None = None
    """A bench's data shape: resolution, channels, classes."""
    confirmation: Confirmation | None = field(default=None, compare=False)

    @property
    def is_set_up(self) -> bool:
        """Whether the study was created whole (its identity is recorded)."""
        return self.identity is not None

    @property
    def is_bench(self) -> bool:
        """Whether the study is a bench's."""
        return self.kind == BENCH

    @property
    def is_search(self) -> bool:
        """Whether the study is a search's."""
        return self.kind == SEARCH

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> StudyRecord:
        """The record stored in a study's user attributes. A study set up without a ``kind``
        (nasbench 0.1) is a search."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = _STORED_AS.get(f.name, f.name)
            value = attrs.get(key)
            if value is None:
                continue
            try:
                value = _decoded(f.name, value)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                raise DamagedValue(f"the study's attribute {key!r}: {type(exc).__name__}") from None
            values[f.name] = value
        if values.get("kind") is None and values.get("identity") is not None:
            values["kind"] = SEARCH
        return cls(**values)

    @classmethod
    def of(cls, study: optuna.Study) -> StudyRecord:
        """The record stored on ``study`` (one read of its attributes); :class:`DamagedValue`
        when a stored value is not what nasbench wrote."""
        try:
            attrs = study.user_attrs
        except json.JSONDecodeError as exc:
            raise DamagedValue(f"an attribute of the study is not JSON: {exc}") from None
        return cls.from_attrs(attrs)

    def to_attrs(self, names: tuple[str, ...] = ()) -> dict[str, Any]:
        """The JSON-ready user attributes of the set fields (all, or those in ``names``), the
        identity last."""
        attrs: dict[str, Any] = {}
        for f in sorted(fields(self), key=lambda f: f.name == "identity"):
            value = getattr(self, f.name)
            if value is None or (names and f.name not in names):
                continue
            if isinstance(value, Confirmation):
                value = value.to_attr()
            elif isinstance(value, tuple):
                value = list(value)
            attrs[_STORED_AS.get(f.name, f.name)] = value
        return attrs

    def save(self, study: optuna.Study, *names: str) -> None:
        """Write the fields ``names`` (every set field when none are named) to ``study``;
        the identity last, so that a reader never sees a study half set up."""
        for key, value in self.to_attrs(names).items():
            study.set_user_attr(key, value)
