"""Architecture specs: frozen dataclasses, validation, and the canonical string and JSON forms.

This module has no torch dependency: a spec is plain data, the builder turns it into a model.

String grammar
--------------
An architecture is a ``:``-separated list of sections; each section is ``_``-separated tokens
whose first token names the section::

    res224_in3_cls1000:stem_c32_k3_s2_arelu6:ir_r1_k3_s1_e1_c16_arelu6:...:head_c1280_d0.2_arelu6

* ``res<R>_in<C>_cls<N>``: input resolution R×R with C channels, N classes (first section).
* ``stem_c<C>_k<K>_s<S>_a<act>``: a K×K convolution, BatchNorm, activation (second section).
* One section per stage (at least one), kind first:
  ``conv`` (standard K×K conv, BN, activation), ``ds`` (depthwise-separable: K×K depthwise conv
  with ``groups=C_in``, BN, activation, then 1×1 pointwise conv, BN, activation) or ``ir``
  (inverted residual). Tokens: ``r`` repeats, ``k`` kernel (3, 5, 7), ``s`` stride of the first
  block (1, 2), ``e`` expansion (``ir`` only, required there), ``c`` output channels,
  ``se`` squeeze-excite ratio (omitted when off), ``a`` activation.
* ``head[_c<C>][_h<H>][_d<P>][_a<act>]`` (last section): optional final 1×1 conv to C channels
  (BN, activation), global average pooling, optional hidden linear layer of H units
  (activation), dropout P before the classifier. ``a`` is required when ``c`` or ``h`` is
  present and meaningless otherwise.

Activations: ``relu``, ``relu6``, ``hswish``, ``silu``.

Expansion: an inverted residual with input width C_in and expansion e has
``round(C_in × e)`` hidden channels; with e = 1 the 1×1 expansion conv is left out.

Squeeze-excite ratio (defined here, once): an SE module acting on C channels squeezes them to
``make_divisible(ratio × C, 8)`` channels (1×1 conv with bias, ReLU), then expands back to C
(1×1 conv with bias) and gates with a hard sigmoid, as in MobileNetV3. C is the channels the SE
acts on: the expanded (depthwise) width in ``ir``, the depthwise width in ``ds``, the output
width in ``conv``. So ``se0.25`` in an ``ir`` block with 96 hidden channels squeezes to 24.

The decoder is strict: an unknown, repeated, missing or meaningless token raises ``ValueError``
naming it. Tokens inside a section may come in any order; :func:`encode` writes the canonical
order, and ``decode(encode(a)) == a`` for every valid spec.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Union

from nasbench.spec import cells
from nasbench.spec.cells import CellArch

from nasbench.spec.values import (_FLOAT_DECIMALS, _MAX_CHANNELS, ACTIVATIONS, BLOCK_KINDS,
                                  KERNELS, MAX_BLOCKS, MAX_STAGES, STRIDES, expanded_channels,
                                  se_channels)
from nasbench.spec.values import check_choice as _check_choice
from nasbench.spec.values import check_float as _check_float
from nasbench.spec.values import check_int as _check_int


@dataclass(frozen=True)
class Stem:
    """The first layer: a K×K conv with stride S to ``channels``, BatchNorm, activation."""

    channels: int
    kernel: int = 3
    stride: int = 2
    activation: str = "relu"

    def __post_init__(self) -> None:
        _check_int("stem channels", self.channels, 1, _MAX_CHANNELS)
        _check_choice("stem kernel", self.kernel, KERNELS)
        _check_choice("stem stride", self.stride, STRIDES)
        _check_choice("stem activation", self.activation, ACTIVATIONS)


@dataclass(frozen=True)
class Stage:
    """``repeats`` blocks of one kind; only the first has ``stride`` and changes the width."""

    kind: str
    channels: int
    repeats: int = 1
    kernel: int = 3
    stride: int = 1
    expansion: float = 1.0
    se_ratio: float = 0.0
    activation: str = "relu"

    def __post_init__(self) -> None:
        _check_choice("block kind", self.kind, BLOCK_KINDS)
        _check_int("stage channels", self.channels, 1, _MAX_CHANNELS)
        _check_int("stage repeats", self.repeats, 1, 64)
        _check_choice("kernel", self.kernel, KERNELS)
        _check_choice("stride", self.stride, STRIDES)
        expansion = _check_float("expansion", self.expansion, 1.0, 16.0)
        if self.kind != "ir" and expansion != 1.0:
            raise ValueError(f"expansion applies to inverted residual ('ir') blocks only, "
                             f"not to '{self.kind}'")
        object.__setattr__(self, "expansion", expansion)
        se = _check_float("se ratio", self.se_ratio, 0.0, 1.0)
        object.__setattr__(self, "se_ratio", se)
        _check_choice("activation", self.activation, ACTIVATIONS)


@dataclass(frozen=True)
class Head:
    """Optional 1×1 conv (``channels``), global pool, optional hidden linear, dropout, classifier."""

    channels: int = 0
    hidden: int = 0
    dropout: float = 0.0
    activation: str | None = None

    def __post_init__(self) -> None:
        _check_int("head channels", self.channels, 0, _MAX_CHANNELS)
        _check_int("head hidden units", self.hidden, 0, _MAX_CHANNELS)
        dropout = _check_float("head dropout", self.dropout, 0.0, 0.95)
        object.__setattr__(self, "dropout", dropout)
        if self.channels or self.hidden:
            if self.activation is None:
                raise ValueError("head activation is required when the head has a conv or a "
                                 "hidden layer (add a<act>, e.g. arelu)")
            _check_choice("head activation", self.activation, ACTIVATIONS)
        elif self.activation is not None:
            raise ValueError("head activation is meaningless without a head conv (c) or hidden "
                             "layer (h): remove it")


@dataclass(frozen=True)
class Arch:
    """A whole network: input shape, stem, stages, head and number of classes."""

    stem: Stem
    stages: tuple[Stage, ...]
    head: Head = field(default_factory=Head)
    resolution: int = 224
    in_channels: int = 3
    num_classes: int = 1000

    def __post_init__(self) -> None:
        if isinstance(self.stages, list):
            object.__setattr__(self, "stages", tuple(self.stages))
        if not isinstance(self.stages, tuple) or not self.stages:
            raise ValueError("an architecture needs at least one stage")
        if len(self.stages) > MAX_STAGES:
            raise ValueError(f"an architecture may have at most {MAX_STAGES} stages, got "
                             f"{len(self.stages)}")
        for stage in self.stages:
            if not isinstance(stage, Stage):
                raise ValueError(f"stages must be Stage records, got {type(stage).__name__}")
        blocks = sum(stage.repeats for stage in self.stages)
        if blocks > MAX_BLOCKS:
            raise ValueError(f"an architecture may have at most {MAX_BLOCKS} blocks (repeats summed "
                             f"over its stages), got {blocks}")
        if not isinstance(self.stem, Stem) or not isinstance(self.head, Head):
            raise ValueError("stem must be a Stem and head a Head")
        _check_int("resolution", self.resolution, 1, 4096)
        _check_int("input channels", self.in_channels, 1, 64)
        _check_int("number of classes", self.num_classes, 2, 100_000)

    @property
    def family(self) -> str:
        """The architecture family: ``blocks`` (a :class:`~nasbench.spec.cells.CellArch` is ``nb201``)."""
        return "blocks"

    def final_resolution(self) -> int:
        """Spatial size after the stem and all stages (same padding, ceil division)."""
        size = math.ceil(self.resolution / self.stem.stride)
        for stage in self.stages:
            size = math.ceil(size / stage.stride)
        return size

    def to_string(self) -> str:
        """The canonical string form (see :func:`encode`)."""
        return encode(self)

    def digest(self) -> str:
        """A short stable name for this architecture: 10 hex digits of its string's SHA-256."""

        return hashlib.sha256(encode(self).encode()).hexdigest()[:10]


AnyArch = Union[Arch, CellArch]
"""Any architecture: a block network (:class:`Arch`) or a NAS-Bench-201 cell network."""


@dataclass(frozen=True)
class BlockConfig:
    """One block with its widths resolved: what the builder and the closed forms consume."""

    kind: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    activation: str
    mid_channels: int
    se_channels: int
    in_size: int
    out_size: int

    @property
    def has_skip(self) -> bool:
        """Identity skip: inverted residuals with stride 1 and equal widths."""
        return self.kind == "ir" and self.stride == 1 and self.in_channels == self.out_channels


def resolve_blocks(arch: Arch) -> list[BlockConfig]:
    """Expand ``arch``'s stages into per-block configs (widths, SE width, spatial sizes)."""
    blocks: list[BlockConfig] = []
    in_chs = arch.stem.channels
    size = math.ceil(arch.resolution / arch.stem.stride)
    for stage in arch.stages:
        for index in range(stage.repeats):
            stride = stage.stride if index == 0 else 1
            if stage.kind == "ir":
                mid = expanded_channels(in_chs, stage.expansion)
            elif stage.kind == "ds":
                mid = in_chs
            else:
                mid = stage.channels
            se = se_channels(mid, stage.se_ratio) if stage.se_ratio else 0
            out_size = math.ceil(size / stride)
            blocks.append(BlockConfig(stage.kind, in_chs, stage.channels, stage.kernel, stride,
                                      stage.activation, mid, se, size, out_size))
            in_chs, size = stage.channels, out_size
    return blocks


# ---------------------------------------------------------------------------------------------
# String codec
# ---------------------------------------------------------------------------------------------

_INT_RE = re.compile(r"[1-9][0-9]*|0")
_FLOAT_RE = re.compile(r"(?:[1-9][0-9]*|0)(?:\.[0-9]+)?")


def _fmt(value: float) -> str:
    text = f"{value:.{_FLOAT_DECIMALS}f}".rstrip("0").rstrip(".")
    return text or "0"


def _encode_stage(stage: Stage) -> str:
    parts = [stage.kind, f"r{stage.repeats}", f"k{stage.kernel}", f"s{stage.stride}"]
    if stage.kind == "ir":
        parts.append(f"e{_fmt(stage.expansion)}")
    parts.append(f"c{stage.channels}")
    if stage.se_ratio:
        parts.append(f"se{_fmt(stage.se_ratio)}")
    parts.append(f"a{stage.activation}")
    return "_".join(parts)


def _encode_head(head: Head) -> str:
    parts = ["head"]
    if head.channels:
        parts.append(f"c{head.channels}")
    if head.hidden:
        parts.append(f"h{head.hidden}")
    if head.dropout:
        parts.append(f"d{_fmt(head.dropout)}")
    if head.activation is not None:
        parts.append(f"a{head.activation}")
    return "_".join(parts)


def encode(arch: Arch) -> str:
    """Encode ``arch`` as its canonical string."""
    sections = [
        f"res{arch.resolution}_in{arch.in_channels}_cls{arch.num_classes}",
        f"stem_c{arch.stem.channels}_k{arch.stem.kernel}_s{arch.stem.stride}_a{arch.stem.activation}",
        *(_encode_stage(stage) for stage in arch.stages),
        _encode_head(arch.head),
    ]
    return ":".join(sections)


def _split_tokens(section: str, allowed: dict[str, str], where: str) -> dict[str, str]:
    """Split ``section``'s tokens (after the first) into {key: raw value}; strict."""
    tokens = section.split("_")[1:]
    values: dict[str, str] = {}
    for token in tokens:
        key = next((k for k in sorted(allowed, key=len, reverse=True) if token.startswith(k)), None)
        if key is None or token == key:
            raise ValueError(f"unknown token {token!r} in {where} section {section!r}; "
                             f"expected one of {', '.join(k + '<' + v + '>' for k, v in allowed.items())}")
        if key in values:
            raise ValueError(f"repeated token {token!r} in {where} section {section!r}")
        values[key] = token[len(key):]
    return values


def _int(raw: str, token: str, section: str) -> int:
    if not _INT_RE.fullmatch(raw):
        raise ValueError(f"token {token!r} in section {section!r} needs an integer value")
    return int(raw)


def _float(raw: str, token: str, section: str) -> float:
    if not _FLOAT_RE.fullmatch(raw):
        raise ValueError(f"token {token!r} in section {section!r} needs a decimal number")
    return float(raw)


def _act(raw: str, token: str, section: str) -> str:
    if raw not in ACTIVATIONS:
        raise ValueError(f"unknown activation in token {token!r} of section {section!r}; "
                         f"expected one of {', '.join('a' + a for a in ACTIVATIONS)}")
    return raw


def _require(values: dict[str, str], keys: tuple[str, ...], section: str) -> None:
    missing = [k for k in keys if k not in values]
    if missing:
        raise ValueError(f"section {section!r} is missing token(s) {', '.join(missing)}")


def _wrap(section: str, build: Any) -> Any:
    try:
        return build()
    except ValueError as exc:
        if "section" in str(exc):
            raise
        raise ValueError(f"{exc} (in section {section!r})") from None


def _decode_input(section: str) -> tuple[int, int, int]:
    if section.split("_")[0] != "res" and not section.startswith("res"):
        raise ValueError(f"the first section must be res<R>_in<C>_cls<N>, got {section!r}")
    # The first token carries a value itself (res224), so re-split with an empty kind.
    values = _split_tokens("_" + section, {"res": "R", "in": "C", "cls": "N"}, "input")
    _require(values, ("res", "in", "cls"), section)
    return tuple(_int(values[k], k + values[k], section) for k in ("res", "in", "cls"))  # type: ignore[return-value]


def _decode_stem(section: str) -> Stem:
    if section.split("_")[0] != "stem":
        raise ValueError(f"the second section must be the stem (stem_c.._k.._s.._a..), got {section!r}")
    values = _split_tokens(section, {"c": "C", "k": "K", "s": "S", "a": "act"}, "stem")
    _require(values, ("c", "k", "s", "a"), section)
    return _wrap(section, lambda: Stem(
        channels=_int(values["c"], "c" + values["c"], section),
        kernel=_int(values["k"], "k" + values["k"], section),
        stride=_int(values["s"], "s" + values["s"], section),
        activation=_act(values["a"], "a" + values["a"], section),
    ))


def _decode_stage(section: str) -> Stage:
    kind = section.split("_")[0]
    if kind not in BLOCK_KINDS:
        raise ValueError(f"unknown block kind {kind!r} in section {section!r}; "
                         f"expected one of {', '.join(BLOCK_KINDS)}")
    allowed = {"r": "N", "k": "K", "s": "S", "c": "C", "se": "ratio", "a": "act"}
    if kind == "ir":
        allowed["e"] = "t"
    else:
        for token in section.split("_")[1:]:
            if token.startswith("e") and not token.startswith("se"):
                raise ValueError(f"meaningless token {token!r} in section {section!r}: expansion "
                                 f"applies to inverted residual ('ir') blocks only")
    values = _split_tokens(section, allowed, kind)
    _require(values, ("r", "k", "s", "c", "a") + (("e",) if kind == "ir" else ()), section)
    if "se" in values and _float(values["se"], "se" + values["se"], section) == 0:
        raise ValueError(f"meaningless token 'se{values['se']}' in section {section!r}: "
                         f"leave se out to switch squeeze-excite off")
    return _wrap(section, lambda: Stage(
        kind=kind,
        repeats=_int(values["r"], "r" + values["r"], section),
        kernel=_int(values["k"], "k" + values["k"], section),
        stride=_int(values["s"], "s" + values["s"], section),
        expansion=_float(values["e"], "e" + values["e"], section) if "e" in values else 1.0,
        channels=_int(values["c"], "c" + values["c"], section),
        se_ratio=_float(values["se"], "se" + values["se"], section) if "se" in values else 0.0,
        activation=_act(values["a"], "a" + values["a"], section),
    ))


def _decode_head(section: str) -> Head:
    if section.split("_")[0] != "head":
        raise ValueError(f"the last section must be the head (head[_c..][_h..][_d..][_a..]), "
                         f"got {section!r}")
    values = _split_tokens(section, {"c": "C", "h": "H", "d": "p", "a": "act"}, "head")
    for key, name in (("c", "head conv"), ("h", "hidden layer"), ("d", "dropout")):
        if key in values and _FLOAT_RE.fullmatch(values[key]) and float(values[key]) == 0:
            raise ValueError(f"meaningless token '{key}{values[key]}' in section {section!r}: "
                             f"leave it out for no {name}")
    return _wrap(section, lambda: Head(
        channels=_int(values["c"], "c" + values["c"], section) if "c" in values else 0,
        hidden=_int(values["h"], "h" + values["h"], section) if "h" in values else 0,
        dropout=_float(values["d"], "d" + values["d"], section) if "d" in values else 0.0,
        activation=_act(values["a"], "a" + values["a"], section) if "a" in values else None,
    ))


def decode(text: str) -> AnyArch:
    """Decode an architecture string (strict: raises ``ValueError`` naming the bad token): a
    block network, or a NAS-Bench-201 cell network (:mod:`nasbench.spec.cells`)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("an architecture string must be a non-empty string")
    if cells.is_cell_string(text):
        return cells.decode_cell(text)
    sections = text.strip().split(":")
    if len(sections) < 4:
        raise ValueError(f"an architecture string needs at least 4 ':'-separated sections "
                         f"(input, stem, one or more stages, head), got {len(sections)}")
    for section in sections:
        if not section or "" in section.split("_"):
            raise ValueError(f"empty section or token in {section!r}")
    resolution, in_channels, classes = _decode_input(sections[0])
    stem = _decode_stem(sections[1])
    stages = tuple(_decode_stage(s) for s in sections[2:-1])
    head = _decode_head(sections[-1])
    try:
        return Arch(stem=stem, stages=stages, head=head, resolution=resolution,
                    in_channels=in_channels, num_classes=classes)
    except ValueError as exc:
        raise ValueError(f"{exc} (in section {sections[0]!r})") from None


# ---------------------------------------------------------------------------------------------
# JSON form
# ---------------------------------------------------------------------------------------------

def to_dict(arch: AnyArch) -> dict[str, Any]:
    """A JSON-ready dict of ``arch`` (stages as a list of dicts)."""
    if isinstance(arch, CellArch):
        return cells.to_dict(arch)
    data = asdict(arch)
    data["stages"] = [dict(s) for s in data["stages"]]
    data["string"] = encode(arch)
    return data


def from_dict(data: dict[str, Any]) -> AnyArch:
    """Rebuild an architecture from :func:`to_dict`'s output; unknown keys raise ``ValueError``."""
    if not isinstance(data, dict):
        raise ValueError("an architecture JSON must be an object")
    if data.get("family") == cells.FAMILY:
        return cells.from_dict(data)
    known = {"stem", "stages", "head", "resolution", "in_channels", "num_classes", "string"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown key(s) in architecture JSON: {', '.join(sorted(unknown))}")

    def record(cls: type, raw: Any, name: str) -> Any:
        if not isinstance(raw, dict):
            raise ValueError(f"'{name}' must be an object")
        fields = set(cls.__dataclass_fields__)
        extra = set(raw) - fields
        if extra:
            raise ValueError(f"unknown key(s) in '{name}': {', '.join(sorted(extra))}")
        return cls(**raw)

    if not isinstance(data.get("stages"), list):
        raise ValueError("'stages' must be a list")
    arch = Arch(
        stem=record(Stem, data.get("stem"), "stem"),
        stages=tuple(record(Stage, s, f"stages[{i}]") for i, s in enumerate(data["stages"])),
        head=record(Head, data.get("head", {}), "head"),
        resolution=data.get("resolution", 224),
        in_channels=data.get("in_channels", 3),
        num_classes=data.get("num_classes", 1000),
    )
    if "string" in data and data["string"] != encode(arch):
        raise ValueError("the 'string' key does not match the spec's fields; remove it or fix it")
    return arch


def to_json(arch: AnyArch) -> str:
    """The JSON form of ``arch``."""
    return json.dumps(to_dict(arch), indent=2)


def from_json(text: str) -> AnyArch:
    """Parse the JSON form (``ValueError`` on malformed JSON or fields)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed architecture JSON: {exc}") from None
    return from_dict(data)
