"""The latency model: its parts, fit, file, conditions, predictions, and its use in a search."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from nasbench import latency_model as lm
from nasbench.workflows.loading import check_sources
from nasbench.latency_model import fit as lm_fit
from nasbench.cli.commands import main
from nasbench.errors import LatencyModelError
from nasbench.errors import SearchError
from nasbench.workflows.search import run_search
from nasbench.workflows.settings import SearchConfig
from nasbench.spec.formulas import arch_cost
from scipy.stats import spearmanr
from search_spaces import DataShape, UniformDraw, get_space

pytestmark = pytest.mark.timing  # measures and compares latencies: run alone (tests/run.sh)

SHAPE = DataShape(8, 1, 10)  # digits
FAST = lm.MeasureSettings(max_time_s=0.05)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model of the tiny space, fitted for real (quickly: a short time cap per model)."""
    model = lm.fit_model("tiny", SHAPE, FAST, archs=16, seed=0)
    return model.save(tmp_path_factory.mktemp("lm") / "tiny.json")


@pytest.mark.parametrize("name", ["tiny", "mixed"])
def test_the_parts_of_a_space_cover_every_architecture_it_draws(name: str) -> None:
    space = get_space(name)
    parts = lm.space_parts(space, SHAPE)
    rng = np.random.default_rng(11)
    for _ in range(300):
        arch = space.sample(UniformDraw(rng), SHAPE)
        missing = [k for k in lm.part_keys(arch) if k not in parts]
        assert not missing, (arch.to_string(), missing)
    kinds = {k.split("_")[0] for k in parts}
    assert kinds == {"stem", "head", "conv", "ds", "ir"}


def test_parts_are_the_layers_the_network_runs() -> None:
    import torch

    from nasbench.nn.build import build_model

    arch = get_space("mixed").sample(UniformDraw(np.random.default_rng(3)), SHAPE)
    net = build_model(arch, seed=0).eval()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        expected = net(x)
        y = x
        for part in lm.arch_parts(arch):
            assert tuple(y.shape[1:]) == part.input_shape, part.key
            y = part.module(y)
    torch.testing.assert_close(y, expected)


def test_a_fitted_model_is_plain_json_and_predicts(tiny_model: Path) -> None:
    data = json.loads(tiny_model.read_text())
    assert data["kind"] == lm.KIND and data["space"] == "tiny" and data["shape"] == [8, 1, 10]
    assert data["conditions"]["threads"] == 1 and data["conditions"]["batch"] == 1
    model = lm.load_model(tiny_model)
    assert model.fit["archs"] == 16 and model.fit["parts"] == len(model.parts_ms) > 20
    assert all(np.isfinite(v) for v in model.coefficients.values())
    assert 0 <= model.error < 1
    arch = get_space("tiny").sample(UniformDraw(np.random.default_rng(5)), SHAPE)
    total, rows = model.sum_ms(arch)
    assert [k for k, _ in rows] == lm.part_keys(arch) and total == pytest.approx(sum(v for _, v in rows))
    features = model.features(arch)  # the correction's inputs: the sum, the parts, the MACs
    assert features == {"sum_ms": pytest.approx(total), "parts": len(rows), "one": 1.0,
                        "macs_m": arch_cost(arch).macs / 1e6}
    correction = sum(model.coefficients[k] * features[k] for k in lm.FEATURES)
    assert correction > 0 and model.predict(arch) == pytest.approx(correction)  # not calibrated yet
    assert sorted(model.coefficients) == sorted(lm.FEATURES)
    assert model.fit["correction"] in lm.CORRECTIONS


def test_predictions_rank_measured_latencies(tiny_model: Path) -> None:
    model = lm.load_model(tiny_model)
    archs = lm.draw_archs(get_space("tiny"), SHAPE, 12, seed=77)
    # three interleaved passes, median per architecture: this host's speed swings within seconds
    passes = [[lm.time_arch(a, FAST) for a in archs] for _ in range(3)]
    measured = np.median(passes, axis=0)
    predicted = [model.predict(a) for a in archs]
    assert spearmanr(predicted, measured).statistic > 0.6


def test_eval_refuses_the_fit_seed_and_reports_the_ceiling(tiny_model: Path) -> None:
    model = lm.load_model(tiny_model)
    with pytest.raises(LatencyModelError, match="seed the model was fitted with"):
        lm.evaluate_model(model, FAST, archs=4, seed=0)
    with pytest.raises(ValueError, match="--rounds must be between 2 and 1000, got 1"):
        lm.evaluate_model(model, FAST, archs=4, rounds=1)
    result = lm.evaluate_model(model, FAST, archs=6, rounds=4)
    assert result.seed == 1000 and result.archs == 6 and result.rounds == 4 and len(result.rows) == 6
    rows = pd.DataFrame(result.rows)  # every figure is what the rows say
    measured = rows["measured_ms"]

    def within(predicted: pd.Series, limit: float = 0.10, truth: pd.Series = measured) -> float:
        return float(((predicted / truth - 1).abs() <= limit).mean())

    assert result.within_5 == within(rows["predicted_ms"], 0.05)
    assert result.within_10 == within(rows["predicted_ms"])
    assert result.unleveled_within_10 == within(rows["predicted_unleveled_ms"])
    assert result.fixed_within_10 == within(rows["predicted_at_fit_speed_ms"])
    assert result.repeat_within_10 == within(rows["measured_again_ms"])
    assert result.truth_within_10 == within(rows["predicted_ms"], truth=rows["measured_all_ms"])
    assert result.median_abs_error == pytest.approx((rows["predicted_ms"] / measured - 1).abs().median())
    assert result.spearman == pytest.approx(spearmanr(rows["predicted_ms"], measured).statistic)
    assert result.repeat_spearman == pytest.approx(spearmanr(rows["measured_again_ms"], measured).statistic)
    assert result.truth_spearman == pytest.approx(
        spearmanr(rows["predicted_ms"], rows["measured_all_ms"]).statistic)
    # halves of the same rounds: all rounds' median lies between the two halves' extremes
    low = rows[["measured_ms", "measured_again_ms"]].min(axis=1)
    high = rows[["measured_ms", "measured_again_ms"]].max(axis=1)
    assert ((rows["measured_all_ms"] >= low - 1e-12) & (rows["measured_all_ms"] <= high + 1e-12)).all()
    bursts = rows[["reference_ms", "reference_again_ms"]].to_numpy()
    assert result.host_drift >= bursts.max() / bursts.min() - 1 - 1e-9
    for row in result.rows:  # the prediction at the fit's speed, scaled by the reference ...
        assert row["predicted_unleveled_ms"] == pytest.approx(
            row["predicted_at_fit_speed_ms"] * row["reference_ms"] / model.reference["ms"])
        assert row["predicted_ms"] == pytest.approx(row["predicted_unleveled_ms"] * row["level"])
    # ... and by the level of the architectures before it
    ratios = [r["measured_ms"] / r["predicted_unleveled_ms"] for r in result.rows]
    levels = [r["level"] for r in result.rows]
    assert levels[:lm.LEVEL_MIN] == [1.0] * lm.LEVEL_MIN
    assert levels[lm.LEVEL_MIN] == pytest.approx(np.median(ratios[:lm.LEVEL_MIN]))


def test_eval_measures_in_chunks_with_the_reference_in_each(tiny_model: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nasbench.latency_model.evaluate.EVAL_CHUNK", 3)  # 7 architectures: chunks of 3, 3 and 1
    archs = lm.draw_archs(get_space("tiny"), SHAPE, 7, seed=5)
    seen = []
    table, reference = lm.measure_interleaved(archs, archs[0], FAST, rounds=2, seed=0,
                                              on_round=lambda d, n: seen.append((d, n)))
    assert table.shape == (7, 2) and reference.shape == (3, 2) and (table > 0).all()
    assert seen == [(r, 6) for r in range(1, 7)]
    # the first architecture is also the reference: the same model, timed in the same rounds
    assert table[0] == pytest.approx(reference[0], rel=0.5)


def test_eval_prints_the_prediction_beside_the_ceiling(tiny_model: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    csv = tmp_path / "eval.csv"
    assert main(["latency-model", "eval", str(tiny_model), "--archs", "7", "--rounds", "2",
                 "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    for line in ("prediction vs measured", "same, without the level", "same, at the fit's host speed",
                 "odd rounds vs even (the ceiling)", "prediction vs all rounds",
                 "measured interleaved in 2 rounds", "last 20 architectures before it"):
        assert line in out, line
    rows = pd.read_csv(csv)
    assert len(rows) == 7 and {"predicted_ms", "predicted_unleveled_ms", "level",
                               "measured_all_ms"} <= set(rows.columns)
    assert (rows["level"][:lm.LEVEL_MIN] == 1).all() and rows["level"][lm.LEVEL_MIN:].ne(1).all()


def _version_1(model: Path, path: Path, factor: float = 1.0) -> Path:
    """``model`` written to ``path`` without its reference (a version-1 file, never scaled to
    the host's speed: this host's swings would blur what a test checks), its predictions
    multiplied by ``factor``."""
    data = json.loads(model.read_text())
    data = {k: v for k, v in data.items() if k != "reference"} | {"version": 1}
    data["coefficients"] = {k: factor * v for k, v in data["coefficients"].items()}
    path.write_text(json.dumps(data))
    return path


def test_measurements_set_the_level_of_later_predictions(tiny_model: Path, tmp_path: Path) -> None:
    model = lm.load_model(_version_1(tiny_model, tmp_path / "v1.json"))
    archs = lm.draw_archs(get_space("tiny"), SHAPE, 30, seed=9)
    base = [model.predict(a) for a in archs]
    for arch, ms in zip(archs[:lm.LEVEL_MIN - 1], base):  # too few to set a level
        assert model.observe(arch, 3 * ms) == 1.0
    assert model.predict(archs[-1]) == base[-1]
    assert model.observe(archs[lm.LEVEL_MIN - 1], 3 * base[lm.LEVEL_MIN - 1]) == pytest.approx(3.0)
    assert model.predict(archs[-1]) == pytest.approx(3 * base[-1])
    # the ratio is taken to the prediction without the level, so it does not feed on itself;
    # the last LEVEL_WINDOW measurements count: as many at the prediction bring the level to 1
    for arch, ms in zip(archs[5:5 + lm.LEVEL_WINDOW], base[5:]):
        model.observe(arch, ms)
    assert model.level == pytest.approx(1.0) and model.predict(archs[-1]) == pytest.approx(base[-1])
    # the level known before each of a sequence, as eval replays it
    assert lm.online_levels([2, 4, 3, 5, 1, 6, 7]).tolist() == [1, 1, 1, 1, 1, 3, 3.5]
    assert lm.level_of(list(range(100))) == np.median(range(80, 100))


def test_a_search_levels_predictions_by_what_it_measured(tiny_model: Path, tmp_path: Path) -> None:
    from nasbench.spec.arch import decode
    from nasbench.study.trial_record import TrialRecord

    # A model that predicts a third of the truth: the search's measurements correct it.
    path = _version_1(tiny_model, tmp_path / "low.json", factor=1 / 3)
    config = SearchConfig(space="tiny", budget=8, epochs=1, seed=4, runs_dir=str(tmp_path),
                          max_latency_ms=1000.0, latency_model=str(path), sampler="random")
    run_search(config)
    study = optuna.load_study(study_name=config.study_name, storage=config.storage_url)
    model = lm.load_model(path)
    records = [TrialRecord.from_trial(t) for t in sorted(study.trials, key=lambda t: t.number)]
    ratios: list[float] = []
    for record in records:
        if record.reused_from is not None or record.latency is None:
            continue
        at_fit = model.predict_at_fit_speed(decode(record.arch))
        assert record.latency_predicted_ms == pytest.approx(at_fit * lm.level_of(ratios))
        ratios.append(record.latency.median_ms / at_fit)
    assert len(ratios) >= config.budget
    assert lm.level_of(ratios) > 1.5  # about 3, times the fit's own level error and the noise


def test_a_model_carries_its_reference_and_follows_the_host_speed(tiny_model: Path,
                                                                   tmp_path: Path) -> None:
    from nasbench.spec.arch import decode

    data = json.loads(tiny_model.read_text())
    assert data["version"] == lm.VERSION == 2
    ref = data["reference"]
    assert decode(ref["arch"]).to_string() == ref["arch"]
    assert 0 < ref["min_ms"] <= ref["ms"] <= ref["max_ms"] and ref["timings"] >= 3
    arch = get_space("tiny").sample(UniformDraw(np.random.default_rng(5)), SHAPE)
    model = lm.load_model(tiny_model)
    at_fit = model.predict(arch)
    # Pretend the fit ran on a host ten times as fast: timed now, the reference takes about ten
    # times its stored time, and every prediction follows (this host's own speed swings by up to
    # 2-3x within minutes, hence the wide bounds).
    (tmp_path / "faster.json").write_text(json.dumps({**data, "reference": {**ref, "ms": ref["ms"] / 10}}))
    faster = lm.load_model(tmp_path / "faster.json")
    scale = faster.calibrate(FAST)
    assert 3 < scale < 30
    assert faster.predict(arch) == pytest.approx(scale * at_fit)
    assert 0.3 < model.calibrate(FAST) < 3  # the same host, minutes later
    # A version-1 model (no reference) is still read, and never scaled.
    old = {k: v for k, v in data.items() if k != "reference"} | {"version": 1}
    (tmp_path / "v1.json").write_text(json.dumps(old))
    v1 = lm.load_model(tmp_path / "v1.json")
    assert v1.reference is None and v1.calibrate(FAST) == 1.0 and v1.predict(arch) == at_fit
    (tmp_path / "v99.json").write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(LatencyModelError, match="of version 99, this nasbench reads versions 1, 2"):
        lm.load_model(tmp_path / "v99.json")
    for bad in ({**ref, "ms": -1.0}, {**ref, "arch": "not an architecture"}, {"ms": 1.0}):
        (tmp_path / "bad.json").write_text(json.dumps({**data, "reference": bad}))
        with pytest.raises(LatencyModelError, match="damaged latency model"):
            lm.load_model(tmp_path / "bad.json")


class _Clock:
    """A reference whose timings are given in advance (for the arithmetic of normalization)."""

    def __init__(self, times: list[float]) -> None:
        self.times = iter(times)

    def time_ms(self) -> float:
        return next(self.times)


def test_measurements_are_normalized_by_the_reference_around_them() -> None:
    clock = _Clock([1.0, 2.0, 4.0, 3.0, 8.0, 6.0, 5.0, 7.0])
    timed = lm.measure_referenced(11, lambda i: 10.0 * (i + 1), clock, every=2, first=2)
    assert timed.ms.tolist() == [10 * (i + 1) for i in range(11)]
    assert timed.reference_ms.tolist() == [1, 2, 4, 3, 8, 6, 5, 7]
    # the last timing before each pair of items: 2, 4, 3, 8, 6, 5 (indices 1..6)
    assert timed.before.tolist() == [1.5, 1.5, 2, 2, 2.5, 2.5, 3, 3, 4, 4, 5]  # median of up to 5
    assert timed.around.tolist() == [2.5, 2.5, 3.5, 3.5, 5, 5, 5.5, 5.5, 6.5, 6.5, 6]  # 2 each side
    assert timed.normalized(3.0).tolist() == pytest.approx(
        [m * 3.0 / a for m, a in zip(timed.ms, timed.around)])


def test_bad_model_files_and_other_conditions_are_refused(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(LatencyModelError, match="no latency model at"):
        lm.load_model(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(LatencyModelError, match="not valid JSON"):
        lm.load_model(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"kind": "something else"}')
    with pytest.raises(LatencyModelError, match="not a nasbench latency model"):
        lm.load_model(tmp_path / "other.json")
    data = json.loads(tiny_model.read_text())
    (tmp_path / "cut.json").write_text(json.dumps({k: v for k, v in data.items() if k != "parts_ms"}))
    with pytest.raises(LatencyModelError, match="damaged latency model"):
        lm.load_model(tmp_path / "cut.json")
    model = lm.load_model(tiny_model)
    other = {**model.conditions, "cpu_model": "Some Other CPU", "threads": 4}
    with pytest.raises(LatencyModelError, match="cpu_model 'AMD|cpu_model"):
        model.check_conditions(other)
    mixed = get_space("mixed").sample(UniformDraw(np.random.default_rng(0)), SHAPE)
    with pytest.raises(LatencyModelError, match="never measured part"):
        model.predict(mixed)


def test_predict_prints_the_parts(tiny_model: Path, capsys: pytest.CaptureFixture) -> None:
    arch = get_space("tiny").sample(UniformDraw(np.random.default_rng(2)), SHAPE)
    assert main(["latency-model", "predict", str(tiny_model), arch.to_string()]) == 0
    out = capsys.readouterr().out
    assert "predicted" in out and "stem_" in out and "head_" in out
    assert "Level: x" in out and "10 architectures of the space timed just now" in out
    assert main(["latency-model", "predict", str(tiny_model), "--json", arch.to_string()]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["arch"] == arch.to_string() and len(rows[0]["parts"]) == len(lm.part_keys(arch))
    # the level of the 10 architectures timed: the prediction is the scaled one times it
    level, scale = rows[0]["level"], rows[0]["host_speed_scale"]
    assert rows[0]["level_archs"] == 10 and level != 1.0 and 0.2 < level < 5
    model = lm.load_model(tiny_model)
    assert rows[0]["predicted_ms"] == pytest.approx(scale * level * model.predict_at_fit_speed(arch))
    assert main(["latency-model", "predict", str(tiny_model), "--json", "--level-archs", "0",
                 arch.to_string()]) == 0
    assert json.loads(capsys.readouterr().out)[0]["level"] == 1.0


def test_predict_of_conditions_that_differ_exits_2(tiny_model: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    data = json.loads(tiny_model.read_text())
    data["conditions"]["torch_version"] = "1.0.0"
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert main(["latency-model", "predict", str(tmp_path / "old.json"), "tiny_cnn"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "torch_version '1.0.0'" in err[0] and "fit one here" in err[0]


def test_a_search_skips_candidates_predicted_over_the_limit(tiny_model: Path, tmp_path: Path) -> None:
    # The model without its reference (a version-1 file, never scaled to the host's speed):
    # scaled, its predictions in the search followed this host's speed, which swings by up to
    # 2x within seconds, so the skips did too (every draw skipped once, none another time).
    # Scaling is tested in test_a_search_scales_predictions_to_the_host_speed.
    unscaled = _version_1(tiny_model, tmp_path / "unscaled.json")
    model = lm.load_model(unscaled)
    archs = lm.draw_archs(get_space("tiny"), SHAPE, 300, seed=3)
    # a limit that three quarters of the space are predicted over, by more than the model's error
    limit = float(np.quantile([model.predict(a) for a in archs], 0.25)) / (1 + model.error)
    config = SearchConfig(space="tiny", budget=4, epochs=1, seed=1, runs_dir=str(tmp_path),
                          max_latency_ms=limit, latency_model=str(unscaled), sampler="random")
    outcome = run_search(config)
    frame = outcome.table
    skipped = frame[frame["predicted_only"] == True]  # noqa: E712
    trained = frame[(frame["state"] == "COMPLETE") & (frame["predicted_only"] != True)  # noqa: E712
                    & frame["reused_from"].isna()]
    assert len(trained) == 4  # the budget counts architectures evaluated, not skipped or reused
    assert len(skipped) >= 1
    assert (skipped["latency_predicted_ms"] > limit * (1 + model.error)).all()
    assert skipped["val_acc"].isna().all() and (~skipped["feasible"].astype(bool)).all()
    assert skipped["latency_ms"].isna().all() and not skipped["pareto"].any()
    assert trained["latency_predicted_ms"].notna().all() and trained["latency_ms"].notna().all()
    table = pd.read_csv(config.run_dir / "results.csv")
    assert {"latency_predicted_ms", "predicted_only"} <= set(table.columns)


def test_a_search_scales_predictions_to_the_host_speed(tiny_model: Path, tmp_path: Path) -> None:
    from nasbench.spec.arch import decode

    data = json.loads(tiny_model.read_text())
    # A model fitted on a host a hundred times as fast: the search must predict about a hundred
    # times its figures (this host's own speed swings by up to 2-3x, hence the wide bounds).
    data["reference"] = {**data["reference"], "ms": data["reference"]["ms"] / 100}
    faster = tmp_path / "faster.json"
    faster.write_text(json.dumps(data))
    model = lm.load_model(faster)
    config = SearchConfig(space="tiny", budget=3, epochs=1, seed=2, runs_dir=str(tmp_path),
                          max_latency_ms=1000.0, latency_model=str(faster), sampler="random")
    frame = run_search(config).table
    rows = frame[frame["latency_predicted_ms"].notna()]
    assert len(rows) >= 3
    ratios = [p / model.predict(decode(a)) for a, p in zip(rows["arch"], rows["latency_predicted_ms"])]
    assert all(20 < r < 500 for r in ratios), ratios


def test_a_limit_nothing_can_meet_stops_the_search_with_the_reason(
        tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nasbench.workflows.search.REPEATS_BEFORE_EXHAUSTED", 30)  # 200: 0.1 s each here
    config = SearchConfig(space="tiny", budget=2, epochs=1, runs_dir=str(tmp_path),
                          max_latency_ms=1e-4, latency_model=str(tiny_model), sampler="random")
    with pytest.raises(SearchError, match="predicted 30 draws in a row over --max-latency-ms"):
        run_search(config)
    study = optuna.load_study(study_name=config.study_name, storage=config.storage_url)
    assert len(study.trials) == 30
    assert all(t.user_attrs.get("predicted_only") for t in study.trials)


def test_a_search_refuses_a_model_it_cannot_use(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(SearchError, match="needs --max-latency-ms"):
        check_sources(SearchConfig(space="tiny", latency_model=str(tiny_model)))
    with pytest.raises(SearchError, match="of space tiny, the search of mixed"):
        check_sources(SearchConfig(max_latency_ms=1.0, latency_model=str(tiny_model)))
    with pytest.raises(SearchError, match="no latency model at"):
        check_sources(SearchConfig(max_latency_ms=1.0, latency_model=str(tmp_path / "none.json")))


def test_the_dashboard_plots_predicted_against_measured(tiny_model: Path, tmp_path: Path) -> None:
    from streamlit.testing.v1 import AppTest

    from nasbench.dashboard import plots

    model = lm.load_model(tiny_model)
    limit = float(np.median([model.predict(a) for a in
                             lm.draw_archs(get_space("tiny"), SHAPE, 30, seed=4)]))
    config = SearchConfig(space="tiny", budget=3, epochs=1, seed=2, runs_dir=str(tmp_path),
                          max_latency_ms=limit, latency_model=str(tiny_model), sampler="random",
                          study="guided")
    frame = run_search(config).table
    assert plots.has_predictions(frame)
    figure = plots.predicted_chart(frame)
    assert "within ±10 %" in figure.layout.title.text
    assert [t.name for t in figure.data][:2] == ["±10 %", "predicted = measured"]
    points = figure.data[2]
    trained = frame[frame["latency_ms"].notna()]
    assert sorted(points.x) == sorted(trained["latency_search_ms"])
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "dashboard.py"),
                           default_timeout=120)
    at.query_params["source"] = str(tmp_path)
    at.run()
    assert not at.exception
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.startswith("Latency model: predicted against measured") for t in titles), titles


def _features(rng: np.random.Generator, n: int) -> np.ndarray:
    sums = rng.uniform(1.0, 5.0, n)
    parts = rng.integers(4, 14, n).astype(float)
    macs = rng.uniform(0.1, 4.0, n)
    return np.column_stack([sums, parts, macs, np.ones(n)])  # the order of lm.FEATURES


def test_the_fit_keeps_the_correction_with_the_lowest_held_out_error() -> None:
    assert lm.FEATURES == ("sum_ms", "parts", "macs_m", "one")
    rng = np.random.default_rng(0)
    x = _features(rng, 80)
    # Parts that add up exactly: the plain sum (the simplest of the ties).
    kind, coef, held = lm.choose_correction(x, x[:, 0].copy(), seed=0, folds=5)
    assert kind == "sum" and list(coef) == [1.0, 0.0, 0.0, 0.0] and np.median(held["sum"]) == 0
    # Whole networks 25 % slower than their parts: the plain sum is 20 % low, a fitted level
    # is not (the median ratio, or least squares that finds the same factor).
    slower = 1.25 * x[:, 0] * rng.lognormal(0.0, 0.05, len(x))
    kind, coef, held = lm.choose_correction(x, slower, seed=0, folds=5)
    assert kind in ("scaled_sum", "linear") and np.median(held[kind]) < 0.05 < np.median(held["sum"])
    assert np.median((x @ coef) / slower) == pytest.approx(1.0, abs=0.03)
    scaled = lm_fit._fit_correction("scaled_sum", x, slower)
    assert scaled[0] == pytest.approx(np.median(slower / x[:, 0])) and list(scaled[1:]) == [0.0] * 3
    # With this host's noise (a factor, lognormal 30 %), least squares of relative error is
    # pulled low (a slow outlier costs it less than a fast one); the median ratio is not.
    noisy = 1.25 * x[:, 0] * rng.lognormal(0.0, 0.3, len(x))
    level = lambda kind: np.median((x @ lm_fit._fit_correction(kind, x, noisy)) / (1.25 * x[:, 0]))  # noqa: E731
    assert level("linear") < 0.95 and level("scaled_sum") == pytest.approx(1.0, abs=0.1)
    # A per-part overhead that the sum misses, measured without noise: the linear correction.
    overhead = x[:, 0] + 0.2 * x[:, 1]
    kind, coef, held = lm.choose_correction(x, overhead, seed=0, folds=5)
    assert kind == "linear" and coef == pytest.approx([1.0, 0.2, 0.0, 0.0], abs=1e-6)
    assert np.median(held["linear"]) < np.median(held["scaled_sum"]) < np.median(held["sum"])
