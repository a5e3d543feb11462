"""Export: standalone modules for every block kind and reference, a run's trial end to end,
a subprocess whose path holds only the export folder and torch, training, weights_only loading."""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

import nasbench
from nasbench.spec.arch import Arch, decode
from nasbench.nn.build import build_model
from nasbench.workflows.export import export_arch, load_weights, model_source, read_export
from nasbench.measure.latency import Probe
from nasbench.spec.references import REFERENCES, reference
from nasbench.study.results import results_frame, select_trial
from nasbench.workflows.search import run_search
from nasbench.workflows.search_study import open_study
from nasbench.workflows.settings import SearchConfig

ROOT = Path(__file__).resolve().parents[2]
BASE = "res16_in3_cls5:stem_c8_k3_s1_ahswish"
BLOCK_ARCHS = {
    "conv": f"{BASE}:conv_r2_k5_s2_c16_se0.25_arelu:head_c32_h24_d0.2_asilu",
    "ds": f"{BASE}:ds_r2_k7_s2_c16_arelu6:head",
    "ir": f"{BASE}:ir_r1_k3_s1_e1_c8_se0.25_arelu:ir_r2_k3_s2_e2.5_c16_ahswish:head_c32_arelu",
}


def _import(export_dir: Path, name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, export_dir / "model.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _round_trip(arch: Arch, tmp: Path, name: str) -> None:
    model = build_model(arch, seed=0).eval()
    with torch.no_grad():  # make BN statistics non-trivial so a wrong load would show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    export_arch(arch, tmp, {"val_acc": 0.5}, state_dict=model.state_dict())
    module = _import(tmp, name)
    exported = module.build(str(tmp / "weights.pt")).eval()
    x = torch.randn(2, arch.in_channels, arch.resolution, arch.resolution)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x))
    program = torch.export.load(str(tmp / "model.pt2"))
    torch.testing.assert_close(program.module()(x[:1]), model(x[:1]))
    assert read_export(tmp)[0] == arch


@pytest.mark.parametrize("kind", sorted(BLOCK_ARCHS))
def test_round_trip_each_block_kind(kind: str, tmp_path: Path) -> None:
    _round_trip(decode(BLOCK_ARCHS[kind]), tmp_path, f"export_{kind}")


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_round_trip_reference_architectures(name: str, tmp_path: Path) -> None:
    import dataclasses

    arch = dataclasses.replace(reference(name), resolution=64)  # same weights, faster check
    _round_trip(arch, tmp_path, f"export_{name}")


def test_generated_code_holds_only_spec_values() -> None:
    source = model_source(decode(BLOCK_ARCHS["ir"]), {"val_acc": 0.9, "bad key": 1,
                                                      "note": "__import__('os')"})
    assert "__import__" not in source and "bad key" not in source
    assert re.search(r"^import torch$", source, re.M)
    imports = {m.group(1) for m in re.finditer(r"^(?:from|import) (\w+)", source, re.M)}
    assert imports == {"__future__", "torch"}


def _torch_only_dir(tmp: Path) -> Path:
    """A folder with links to torch and the packages torch itself requires, nothing else."""
    site = Path(torch.__file__).resolve().parents[1]
    farm = tmp / "torch_only"
    farm.mkdir()
    todo, seen = ["torch"], set()
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(name)
        for req in dist.requires or []:
            if "extra ==" not in req and ("platform_system" not in req or "Linux" in req):
                todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
        for file in dist.files or []:
            top = file.parts[0]
            if top.endswith((".dist-info", ".data")) or top in ("..", "bin", "__pycache__"):
                continue
            target, link = site / top, farm / top
            if target.exists() and not link.exists():
                link.symlink_to(target)
    return farm


@pytest.mark.e2e
@pytest.mark.timing  # compares the exported model's latency with the recorded one
def test_export_of_a_run_imports_with_only_torch_and_matches(tmp_path: Path) -> None:
    config = SearchConfig(space="tiny", budget=3, epochs=1, threads=1, latency_time_s=0.3,
                          runs_dir=str(tmp_path / "runs"), study="exp")
    run_search(config)
    out = tmp_path / "export"
    proc = subprocess.run([sys.executable, "cli.py", "export", str(tmp_path / "runs" / "exp"),
                           "--out", str(out), "--pick", "accuracy"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} >= {"model.py", "arch.json", "model.pt2"}
    assert json.loads((out / "arch.json").read_text())["nasbench_version"] == nasbench.__version__
    arch, info = read_export(out)
    frame = results_frame(open_study(config))
    chosen = select_trial(frame, pick="accuracy")
    assert info["trial"] == int(chosen["number"]) and arch.to_string() == chosen["arch"]
    assert "# architecture: " + arch.to_string() in (out / "model.py").read_text()

    # Train it in full: test accuracy, per-class report, weights beside the export.
    proc = subprocess.run([sys.executable, "cli.py", "train", str(out), "--epochs", "6"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Test accuracy" in proc.stdout and "precision" in proc.stdout and "recall" in proc.stdout
    state = load_weights(out / "weights.pt")
    # Six epochs on digits take every architecture of the tiny space well past chance (0.1).
    assert json.loads((out / "arch.json").read_text())["test_acc"] >= 0.9
    assert {p.name for p in out.iterdir()} == {"model.py", "arch.json", "model.pt2", "weights.pt"}

    # Import in a subprocess whose path holds only the export folder and torch.
    model = build_model(arch).eval()
    model.load_state_dict(state)
    x = torch.randn(4, arch.in_channels, arch.resolution, arch.resolution)
    torch.save(x, tmp_path / "x.pt")
    farm = _torch_only_dir(tmp_path)
    stdlib = [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"],
              str(Path(sysconfig.get_paths()["stdlib"]) / "lib-dynload")]
    script = f"""
import sys
sys.path[:] = {[str(out), str(farm), *stdlib]!r}
import torch, model
for forbidden in ("nasbench", "optuna", "fvcore", "search_spaces", "pandas", "numpy"):
    assert forbidden not in sys.modules, forbidden
net = model.build({str(out / 'weights.pt')!r}).eval()
x = torch.load({str(tmp_path / 'x.pt')!r}, weights_only=True)
with torch.no_grad():
    torch.save(net(x), {str(tmp_path / 'y.pt')!r})
try:
    import nasbench
except ImportError:
    print("isolated")
"""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "isolated"
    with torch.no_grad():
        torch.testing.assert_close(torch.load(tmp_path / "y.pt", weights_only=True), model(x))

    # The exported module's latency, re-measured, agrees with the harness model measured in the
    # same moments: 20 rounds of short bursts, the two in alternating order, compared round by
    # round (the median of the ratios), so a change of the host's speed between rounds cancels.
    # (Three interleaved 0.3 s measurements each once failed on a CI host at 1.66 against
    # 1.00 ms: its speed changed between measurements.) It also agrees with the search's figure;
    # the search measured minutes ago on a shared host whose speed drifts, so that bound is looser.
    import statistics

    exported = _import(out, "export_run").build(str(out / "weights.pt"))
    shape = (arch.in_channels, arch.resolution, arch.resolution)
    probes = {"exported": Probe(exported, shape), "harness": Probe(model, shape)}
    ratios, exported_bursts = [], []
    for r in range(20):
        ms = {name: probes[name].burst(min_time_s=0.05)
              for name in (("exported", "harness") if r % 2 == 0 else ("harness", "exported"))}
        ratios.append(ms["exported"] / ms["harness"])
        exported_bursts.append(ms["exported"])
    ratio = statistics.median(ratios)
    assert 0.8 <= ratio <= 1.25, sorted(ratios)
    exported_ms = statistics.median(exported_bursts)
    recorded = info["latency"]
    assert 0.5 * recorded["median_ms"] <= exported_ms <= 2.0 * recorded["median_ms"], \
        (exported_ms, recorded)


def test_weights_load_refuses_pickled_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "weights.pt")
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        load_weights(tmp_path / "weights.pt")


@pytest.mark.e2e
@pytest.mark.parametrize("args,words", [
    (("export", "nope", "--out", "x"), "no study found"),
    (("train", "missing_dir/arch.json"), "not found"),
])
def test_export_and_train_bad_input(args: tuple, words: str) -> None:
    proc = subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr


def test_select_trial_rules(tmp_path: Path) -> None:
    config = SearchConfig(space="tiny", budget=5, sampler="random", epochs=1, threads=1,
                          latency_time_s=0.05, runs_dir=str(tmp_path))
    run_search(config)
    frame = results_frame(open_study(config))
    best = select_trial(frame, pick="accuracy")
    fastest = select_trial(frame, pick="latency")
    knee = select_trial(frame, pick="knee")
    front = frame[frame["pareto"]]
    assert best["val_acc"] == front["val_acc"].max()
    assert fastest["latency_ms"] == front["latency_ms"].min()
    assert knee["number"] in set(front["number"])
    budget = float(frame["latency_ms"].median())
    within = select_trial(frame, max_latency_ms=budget)
    assert within["latency_ms"] <= budget
    assert within["val_acc"] == frame[frame["latency_ms"] <= budget]["val_acc"].max()
    with pytest.raises(ValueError, match="no feasible trial has latency"):
        select_trial(frame, max_latency_ms=1e-6)
    with pytest.raises(ValueError, match="not a completed trial"):
        select_trial(frame, trial=999)


@pytest.mark.parametrize("spec", [BLOCK_ARCHS["ir"], "res8_in1_cls10:|nor_conv_3x3~0|+|skip_connect~0|"
                                  "nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"])
def test_onnx_export_has_a_batch_axis_and_named_tensors(tmp_path: Path, spec: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    arch = decode(spec)
    model = build_model(arch, seed=1).eval()
    written = export_arch(arch, tmp_path, state_dict=model.state_dict(), onnx=True)
    session = ort.InferenceSession(str(written["onnx"]))
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    assert isinstance(session.get_inputs()[0].shape[0], str)  # a named, dynamic batch axis
    for batch in (1, 4):
        x = torch.randn(batch, arch.in_channels, arch.resolution, arch.resolution)
        (out,) = session.run(["logits"], {"input": x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(out), model(x), rtol=1e-4, atol=1e-5)
