"""Bad input: a one-line error naming the problem and the fix, exit code 2, no traceback, and
nothing changed on disk."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nasbench.workflows.search_study import open_study
from nasbench.workflows.settings import SearchConfig

ROOT = Path(__file__).resolve().parents[2]
ARCH = "res8_in1_cls10:stem_c16_k3_s1_arelu:ir_r1_k3_s1_e3_c16_arelu:head"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of realistic bad things: an empty data folder, a corrupt CIFAR batch, a study
    with no finished trial, a file where a folder should be."""
    root = tmp_path_factory.mktemp("bad")
    (root / "empty_data" / "train").mkdir(parents=True)
    cifar = root / "cifar"
    cifar.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with (cifar / name).open("wb") as handle:
            pickle.dump({b"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8),
                         b"labels": list(range(10))}, handle)
    (cifar / "data_batch_2").write_bytes(b"\x80\x04garbage")
    runs = root / "runs"
    open_study(SearchConfig(space="tiny", runs_dir=str(runs), study="tiny-study"))
    (root / "a_file").write_text("not a folder")
    (root / "bad.json").write_text("{not json")
    (root / "null.json").write_text("null")
    (root / "nullstem.json").write_text('{"stem": null, "stages": []}')
    damaged = bytearray((Path(__file__).resolve().parents[1] / "fixtures" / "study-v0.1.db").read_bytes())
    damaged[4096 * 5:4096 * 12] = bytes((b * 7 + 13) % 256 for b in damaged[4096 * 5:4096 * 12])
    (root / "runs" / "damaged").mkdir(parents=True)
    (root / "runs" / "damaged" / "study.db").write_bytes(bytes(damaged))  # header intact
    (root / "empty.db").write_bytes(b"")
    from PIL import Image

    for name, counts in (("fewdata", {"a": 5, "b": 1}), ("loopdata", {"a": 4, "b": 4}),
                         ("bombdata", {"a": 4, "b": 4})):
        for cls, n in counts.items():
            (root / name / "train" / cls).mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (8, 8), (i * 30, 0, 0)).save(root / name / "train" / cls / f"{i}.png")
    (root / "loopdata" / "train" / "loop").symlink_to(root / "loopdata" / "train" / "loop")
    Image.new("1", (20000, 20000)).save(root / "bombdata" / "train" / "a" / "bomb.png")
    (root / "runs" / "legacy").mkdir()
    (root / "runs" / "legacy" / "study.db").write_bytes(
        (Path(__file__).resolve().parents[1] / "fixtures" / "study-v0.1.db").read_bytes())
    (root / "listexport").mkdir()
    (root / "listexport" / "arch.json").write_text("[1, 2]")
    _hostile(root)
    return root


def _hostile(root: Path) -> None:
    """What a hostile user leaves around: a healthy database with one damaged value, a damaged
    database in write-ahead-log mode, CIFAR batches that are a memory bomb or floats, latency
    models with impossible coefficients, bench tables with parts missing, a folder of one's
    own work beside an export."""
    import json
    import sqlite3

    import pandas as pd

    from nasbench.latency_model.measure import MeasureSettings

    import itertools

    import torch

    from nasbench.spec.cells import OPS, CellArch

    torch.save([1.0] * 10, root / "latency-short.pt")  # the published formats, wrong contents
    torch.save([1.0] * 10, root / "odd name;x.pt")
    torch.save({"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|": 0}, root / "index-short.pt")
    torch.save({CellArch(ops).nb201_string(): i for i, ops in
                enumerate(itertools.product(OPS, repeat=6))}, root / "index-full.pt")
    legacy = (Path(__file__).resolve().parents[1] / "fixtures" / "study-v0.1.db").read_bytes()
    (root / "runs" / "badvalue").mkdir()
    (root / "runs" / "badvalue" / "study.db").write_bytes(legacy)
    con = sqlite3.connect(root / "runs" / "badvalue" / "study.db")
    con.execute("UPDATE trial_user_attributes SET value_json = '{\"median_ms\": [broken' WHERE "
                "trial_user_attribute_id = (SELECT MIN(trial_user_attribute_id) FROM "
                "trial_user_attributes WHERE key = 'latency')")
    con.commit()
    assert con.execute("PRAGMA quick_check").fetchall() == [("ok",)]  # healthy as a file
    con.close()
    wal = root / "wal.db"
    wal.write_bytes(legacy)
    con = sqlite3.connect(wal)
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    damaged = bytearray(wal.read_bytes())
    damaged[4096 * 5:4096 * 12] = bytes((b * 7 + 13) % 256 for b in damaged[4096 * 5:4096 * 12])
    (root / "runs" / "damagedwal").mkdir()
    (root / "runs" / "damagedwal" / "study.db").write_bytes(bytes(damaged))
    wal.unlink()
    rng = np.random.default_rng(0)
    for name in ("cifarbomb", "cifarfloat"):
        (root / name).mkdir()
        for batch in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            with (root / name / batch).open("wb") as handle:
                pickle.dump({b"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8),
                             b"labels": list(range(10))}, handle)
    row: list = [0] * 3072
    for _ in range(12):  # each level refers to the one below 10 times: 10^12 numbers unfolded
        row = [row] * 10
    with (root / "cifarbomb" / "data_batch_3").open("wb") as handle:
        pickle.dump({b"data": row, b"labels": list(range(10))}, handle)
    with (root / "cifarfloat" / "data_batch_2").open("wb") as handle:
        pickle.dump({b"data": rng.random((10, 3072)) * 300, b"labels": list(range(10))}, handle)
    conditions = MeasureSettings().conditions()
    model = {"kind": "nasbench-latency-model", "version": 2, "space": "tiny", "shape": [8, 1, 10],
             "conditions": conditions, "parts_ms": {"stem": 0.1},
             "coefficients": {"sum_ms": 1.0, "parts": 0.0, "macs_m": 0.0, "one": 0.0},
             "fit": {"seed": 0}, "reference": None}
    (root / "model.json").write_text(json.dumps(model))
    for name, value in (("nan", float("nan")), ("negative", -1.0)):
        (root / f"{name}-model.json").write_text(json.dumps(
            {**model, "coefficients": {**model["coefficients"], "sum_ms": value}}))
    (root / "thread-model.json").write_text(json.dumps(
        {**model, "conditions": {**conditions, "threads": 10 ** 12}}))
    bench = root / "runs" / "bench-fake"
    bench.mkdir()
    table = pd.DataFrame({
        "arch": [ARCH] * 3, "complete": [True] * 3, "pareto": [True, False, False],
        "params": [1000, 2000, 3000], "macs": [10_000, 20_000, 30_000],
        "latency_ms": [1.0, 2.0, 3.0], "val_acc_mean": [0.5, 0.6, 0.7],
        "train_time_s": [1.0] * 3, "measure_time_s": [0.1] * 3, "epochs": [2] * 3,
        **{f"{c}_pass{p}": [1.0, 2.0, 3.0] for p in (1, 2)
           for c in ("latency_ms", "latency_iqr_ms", "latency_samples")},
        "val_acc_per_epoch_seed0": [[0.4, 0.5], [0.5, 0.6], [0.6, 0.7]]})
    meta = {"kind": "nasbench-bench", "version": 1, "study": "bench-fake", "space": "tiny",
            "dataset": "digits", "shape": [8, 1, 10], "architectures": 3, "complete": 3,
            "whole_space": True, "seeds": 1, "passes": 2, "n_val": 360, "settings": {},
            "reference_point": {"val_acc": 0.0, "latency_ms": 3.3}, "conditions": {}}
    table.to_parquet(bench / "table.parquet")
    (bench / "bench.json").write_text(json.dumps(meta))
    table.to_parquet(bench / "other.parquet")
    for name, changed_table, changed_meta in (
            ("bench-empty", table.iloc[:0], meta),
            ("bench-columns", table.drop(columns=["latency_ms"]), meta),
            ("bench-noshape", table, {k: v for k, v in meta.items() if k != "shape"})):
        (root / "runs" / name).mkdir()
        changed_table.to_parquet(root / "runs" / name / "table.parquet")
        (root / "runs" / name / "bench.json").write_text(json.dumps(changed_meta))
    (root / "tables.csv").mkdir()
    (root / "archs-empty.txt").write_text("# nothing here\n\n")
    (root / "archs-bad.txt").write_text(f"{ARCH}\n\n{ARCH.replace('_e3', '')}\n")
    (root / "notes").mkdir()
    (root / "notes" / "thesis.tex").write_text("a user's own work")


CASES = [
    # (id, arguments, words the one line must contain)
    ("budget zero", ["search", "--budget", "0"], "--budget"),
    ("budget negative", ["search", "--budget", "-5"], "--budget"),
    ("budget absurd", ["search", "--budget", "999999999"], "--budget"),
    ("budget not a number", ["search", "--budget", "lots"], "--budget"),
    ("unknown space", ["search", "--space", "resnet"], "unknown space 'resnet'"),
    ("unknown sampler", ["search", "--sampler", "cmaes"], "unknown sampler 'cmaes'"),
    ("unknown dataset", ["search", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    ("zero threads", ["search", "--threads", "0"], "--threads"),
    ("threads neither a number nor auto", ["search", "--threads", "many"],
     "expected a positive integer or 'auto'"),
    ("a worker's zero thread cap", ["worker", "--storage", "sqlite:///{world}/x.db", "--study", "x",
                                    "--max-threads", "0"], "--max-threads"),
    ("zero epochs", ["search", "--epochs", "0"], "--epochs"),
    ("negative latency limit", ["search", "--max-latency-ms", "-1"], "--max-latency-ms"),
    ("malformed architecture", ["profile", ARCH.replace("_e3", "")], "missing token(s) e"),
    ("meaningless token", ["profile", ARCH.replace("ir_", "conv_")], "meaningless"),
    ("malformed JSON spec", ["profile", "{world}/bad.json"], "bad architecture file"),
    ("missing data folder", ["search", "--dataset", "folder", "--data-dir", "{world}/nowhere"],
     "does not exist"),
    ("empty data folder", ["search", "--dataset", "folder", "--data-dir", "{world}/empty_data"],
     "class folders"),
    ("corrupt CIFAR batch", ["search", "--dataset", "cifar10", "--data-dir", "{world}/cifar"],
     "corrupt CIFAR-10 batch"),
    ("unreachable storage", ["search", "--storage", "postgresql://nasbench@127.0.0.1:9/nasbench"],
     "cannot open storage"),
    ("unsupported storage", ["search", "--storage", "redis://localhost/0"], "unsupported storage"),
    ("unwritable runs folder", ["search", "--runs-dir", "{world}/a_file/runs"], "writable --runs-dir"),
    ("study reused with another space", ["search", "--study", "tiny-study", "--space", "mixed"],
     "other settings"),
    ("export with no finished trial", ["export", "{world}/runs/tiny-study", "--out", "{world}/out"],
     "no finished trial"),
    ("export of a missing run", ["export", "{world}/runs/none", "--out", "{world}/out"], "no study found"),
    ("results of a missing run", ["results", "{world}/runs/none"], "no study found"),
    ("train on mismatched data", ["train", "mobilenet_v2", "--epochs", "1", "--out", "{world}/out"],
     "expects 3x224x224"),
    ("unknown command", ["fly"], "invalid choice"),
    ("negative seed", ["search", "--seed", "-3"], "--seed must be a whole number from 0"),
    ("negative seed in training", ["train", ARCH, "--seed", "-1", "--out", "{world}/out"],
     "--seed must be a whole number from 0"),
    ("study name with shell characters", ["search", "--study", "a?b;rm"], "--study must be a plain name"),
    ("study name with a slash", ["search", "--study", "../up"], "--study must be a plain name"),
    ("resolution out of range", ["profile", "mobilenet_v2", "--resolution", "100000"],
     "resolution must be in [1, 4096]"),
    ("JSON spec of null", ["profile", "{world}/null.json"], "must be an object"),
    ("JSON spec with a null stem", ["profile", "{world}/nullstem.json"], "bad architecture file"),
    ("export folder with a list for arch.json", ["train", "{world}/listexport"], "expected an object"),
    ("unknown pruner", ["search", "--pruner", "asha"], "invalid choice: 'asha'"),
    ("confirm with no complete trial", ["confirm", "{world}/runs/tiny-study"], "no complete trial"),
    ("confirm with zero seeds", ["confirm", "{world}/runs/tiny-study", "--confirm-seeds", "0"],
     "--confirm-seeds must be between 1"),
    ("confirm of a storage that cannot be opened", ["confirm", "sqlite:///{world}/missing.db"],
     "no study database at"),
    ("confirm of a damaged database", ["confirm", "{world}/runs/damaged"], "is damaged"),
    ("search with zero confirmation seeds", ["search", "--confirm-seeds", "0"],
     "--confirm-seeds must be between 1"),
    ("search with too few confirmation rounds", ["search", "--confirm-rounds", "2"],
     "--confirm-rounds must be between 5"),
    ("a validation subset smaller than the classes", ["search", "--max-val-samples", "3"],
     "--max-val-samples must be at least the number of classes"),
    ("a training batch of one", ["search", "--train-batch", "1"], "--train-batch must be between 2"),
    ("a negative BatchNorm calibration", ["search", "--bn-calibration", "-1"], "expected 0 or more"),
    ("latency-model predict of a missing model",
     ["latency-model", "predict", "{world}/none.json", "tiny_cnn"], "no latency model at"),
    ("latency-model predict with too few architectures for a level",
     ["latency-model", "predict", "{world}/none.json", "tiny_cnn", "--level-archs", "3"],
     "--level-archs must be 0 (no level) or between 5 and 1000, got 3"),
    ("latency-model eval of a file that is not JSON", ["latency-model", "eval", "{world}/bad.json"],
     "is not valid JSON"),
    ("latency-model predict of JSON that is not a model",
     ["latency-model", "predict", "{world}/null.json", "tiny_cnn"], "not a nasbench latency model"),
    ("latency-model fit of an unknown space", ["latency-model", "fit", "--space", "nope"],
     "unknown space 'nope'"),
    ("latency-model fit to a file that is not JSON",
     ["latency-model", "fit", "--space", "tiny", "--out", "{world}/model.pkl"], "must end in .json"),
    ("search with a latency model but no latency limit",
     ["search", "--latency-model", "{world}/bad.json"], "needs --max-latency-ms"),
    ("search with a latency model that is not one",
     ["search", "--max-latency-ms", "1", "--latency-model", "{world}/null.json"],
     "not a nasbench latency model"),
    ("a study resumed with another BatchNorm calibration",
     ["search", "--study", "tiny-study", "--space", "tiny", "--bn-calibration", "0"],
     "bn_calibration=256 (now 0)"),
    ("results of a damaged database", ["results", "{world}/runs/damaged"], "is damaged"),
    ("export of a damaged database", ["export", "{world}/runs/damaged", "--out", "{world}/out"],
     "sqlite3 {world}/runs/damaged/study.db .recover"),
    ("search into a damaged database", ["search", "--study", "damaged", "--space", "tiny",
                                        "--budget", "9"], "nothing was written to it"),
    ("results of an empty file", ["results", "sqlite:///{world}/empty.db"], "is not a study database (empty)"),
    ("results of a missing database", ["results", "sqlite:///{world}/missing.db"],
     "no study database at"),
    ("a class with one image", ["search", "--dataset", "folder", "--data-dir", "{world}/fewdata"],
     "needs at least 3 images"),
    ("a symbolic link loop in the data", ["search", "--dataset", "folder", "--data-dir",
                                          "{world}/loopdata"], "looping symbolic link"),
    ("a decompression bomb", ["search", "--dataset", "folder", "--data-dir", "{world}/bombdata"],
     "too large to decode safely"),
    ("a batch too large for memory", ["profile", "mobilenet_v2", "--batch", "60000"],
     "or add --no-memory-check"),
    ("a network too wide for memory", ["profile", "res4000_in3_cls10:stem_c8000_k3_s1_arelu:"
                                       "conv_r1_k3_s1_c8000_arelu:head"], "1024.0 GB of activations"),
    ("a block too large for memory", ["blocks", "--cin", "4000", "--cout", "8000", "--size", "1000"],
     "or add --no-memory-check"),
    ("a resolution far above the data's", ["search", "--resolution", "4000"],
     "choose a --resolution nearer the data's (8)"),
    ("training for too many epochs", ["train", ARCH, "--epochs", "5000", "--out", "{world}/out"],
     "--epochs must be between 1 and 1000"),
    ("export into a folder that holds files", ["export", "{world}/runs/legacy", "--out",
                                               "{world}/listexport"], "add --force"),
    ("bench with zero seeds", ["bench", "--seeds", "0"], "--seeds must be between 1 and 20"),
    ("bench of a space too large", ["bench", "--space", "mobilenet_v2"], "add --sample N"),
    ("replay of a missing table", ["replay", "{world}/nowhere"], "no bench table at"),
    ("replay of a search run", ["replay", "{world}/runs/tiny-study"], "is not a bench table"),
    ("spaces with an unknown option", ["spaces", "--all"], "unrecognized arguments"),
    ("blocks with an invalid kernel", ["blocks", "--kernel", "4"], "kernel must be one of"),
    ("worker on a missing study", ["worker", "--storage", "sqlite:///{world}/runs/tiny-study/study.db",
                                   "--study", "nope"], "no study 'nope'"),
    ("dashboard on port 0", ["dashboard", "--port", "0"], "--port"),
    ("results with an unknown table format", ["results", "{world}/runs/tiny-study", "--csv",
                                              "{world}/t.xlsx"], "--csv {world}/t.xlsx must end in .csv or .parquet"),
    # 1. --force never deletes what the command did not write
    ("export --force onto a runs folder", ["export", "{world}/runs/legacy", "--out", "{world}/runs",
                                           "--force"], "--force replaces only a previous output"),
    ("export --force onto a run", ["export", "{world}/runs/legacy", "--out", "{world}/runs/legacy",
                                   "--force"], "holds study.db"),
    ("export --force onto a folder of one's own", ["export", "{world}/runs/legacy", "--out",
                                                   "{world}/notes", "--force"], "holds thesis.tex"),
    ("train --force onto a run", ["train", ARCH, "--out", "{world}/runs/tiny-study", "--force"],
     "--force replaces only a previous output"),
    ("train --force onto a runs folder", ["train", ARCH, "--out", "{world}/runs", "--force"],
     "--force replaces only a previous output"),
    # 3. a damaged value in a healthy SQLite file; a damaged database in WAL mode
    ("results of a damaged value", ["results", "{world}/runs/badvalue"], "holds a damaged value"),
    ("export of a damaged value", ["export", "{world}/runs/badvalue", "--out", "{world}/out"],
     "holds a damaged value"),
    ("confirm of a damaged value", ["confirm", "{world}/runs/badvalue"], "holds a damaged value"),
    ("search resuming a damaged value", ["search", "--storage", "sqlite:///{world}/runs/badvalue/study.db",
                                         "--study", "legacy-v0.1", "--space", "tiny", "--epochs", "1",
                                         "--sampler", "random", "--seed", "5", "--max-flops", "400000",
                                         "--budget", "9", "--runs-dir", "{world}/elsewhere"],
     "holds a damaged value"),
    ("search resuming a damaged value with its own budget",
     ["search", "--storage", "sqlite:///{world}/runs/badvalue/study.db", "--study", "legacy-v0.1",
      "--space", "tiny", "--epochs", "1", "--sampler", "random", "--seed", "5", "--max-flops",
      "400000", "--budget", "5", "--runs-dir", "{world}/elsewhere"], "holds a damaged value"),
    ("results of a damaged database in WAL mode", ["results", "{world}/runs/damagedwal"], "is damaged"),
    ("search into a damaged database in WAL mode", ["search", "--study", "damagedwal", "--space",
                                                    "tiny"], "is damaged"),
    # 4. work and memory bounded before anything is done
    ("a CIFAR batch that unfolds into a terabyte", ["search", "--dataset", "cifar10", "--data-dir",
                                                    "{world}/cifarbomb"], "must be a uint8 array"),
    ("too many stages", ["profile", "res32_in3_cls10:stem_c8_k3_s1_arelu:"
                         + ":".join(["conv_r1_k3_s1_c8_arelu"] * 40) + ":head"], "at most 32 stages"),
    ("too many blocks", ["profile", "res32_in3_cls10:stem_c8_k3_s1_arelu:"
                         + ":".join(["conv_r64_k3_s1_c8_arelu"] * 5) + ":head"], "at most 256 blocks"),
    ("a network too large to time", ["profile", "res4000_in3_cls10:stem_c2000_k3_s1_arelu:"
                                     "conv_r1_k7_s1_c2000_arelu:head", "--no-memory-check"],
     "more than the 100,000,000,000"),
    ("a block too large to time", ["blocks", "--cin", "8000", "--cout", "8000", "--size", "4000",
                                   "--no-memory-check"], "more than the 100,000,000,000"),
    ("latency-model fit of a trillion architectures", ["latency-model", "fit", "--space", "tiny",
                                                       "--archs", "1000000000000"],
     "--archs must be between 10 and 5000"),
    ("latency-model eval of a trillion architectures", ["latency-model", "eval", "{world}/model.json",
                                                        "--archs", "1000000000000"],
     "--archs must be between 3 and 5000"),
    ("a budget above the space's size", ["search", "--space", "tiny", "--budget", "577"],
     "more than the 576 architectures"),
    # 5. values that would poison a study
    ("a trillion training threads", ["search", "--threads", "1000000000000"],
     "--threads must be between 1 and 1024"),
    ("a trillion latency threads", ["search", "--latency-threads", "1000000000000"],
     "--latency-threads must be between 1 and 1024"),
    ("a bench with a trillion threads", ["bench", "--threads", "1000000000000"],
     "--threads must be between 1 and 1024"),
    ("profile with a trillion threads", ["profile", "mobilenet_v2", "--threads", "1000000000000"],
     "--threads must be between 1 and 1024"),
    ("train with a trillion threads", ["train", ARCH, "--threads", "1000000000000", "--out",
                                       "{world}/out"], "--threads must be between 1 and 1024"),
    ("a resume with a budget below what was evaluated",
     ["search", "--storage", "sqlite:///{world}/runs/legacy/study.db", "--study", "legacy-v0.1",
      "--space", "tiny", "--epochs", "1", "--sampler", "random", "--seed", "5", "--max-flops",
      "400000", "--budget", "2", "--runs-dir", "{world}/elsewhere"], "is below the"),
    ("a study name its run folder's database does not hold",
     ["search", "--study", "legacy", "--space", "tiny"], "holds study 'legacy-v0.1', not 'legacy'"),
    # 6. another study's rows
    ("a storage elsewhere whose run folder holds another study",
     ["search", "--study", "tiny-study", "--storage", "sqlite:///{world}/elsewhere.db"],
     "holds another study's database"),
    # 7. what ended in a traceback
    ("replay with a constraint nothing meets", ["replay", "{world}/runs/bench-fake",
                                                "--max-latency-ms", "0.001"],
     "no architecture of the table meets --max-latency-ms 0.001"),
    ("replay of an empty table", ["replay", "{world}/runs/bench-empty"], "no complete architecture"),
    ("replay of a table with a column missing", ["replay", "{world}/runs/bench-columns"],
     "no column latency_ms"),
    ("replay of a bench.json without a shape", ["replay", "{world}/runs/bench-noshape"], "has no shape"),
    ("dashboard on port 70000", ["dashboard", "--port", "70000"], "a port from 1 to 65535"),
    ("dashboard on an address that is none", ["dashboard", "--address", "999.1.1.1"],
     "expected an IP address or a host name"),
    ("dashboard on an empty address", ["dashboard", "--address", ""], "an empty one binds every"),
    # 8. damaged latency models
    ("search with a latency model of NaN", ["search", "--max-latency-ms", "1", "--latency-model",
                                            "{world}/nan-model.json"], "damaged latency model"),
    ("predict with a negative coefficient", ["latency-model", "predict", "{world}/negative-model.json",
                                             ARCH], "damaged latency model"),
    ("predict with conditions no measurement has", ["latency-model", "predict",
                                                    "{world}/thread-model.json", ARCH],
     "conditions no measurement has"),
    # 9. output paths checked before the work
    ("train --out a file", ["train", ARCH, "--out", "{world}/a_file"], "is a file"),
    ("latency-model fit --out under a file", ["latency-model", "fit", "--space", "tiny", "--out",
                                              "{world}/a_file/model.json"], "is a file, not a folder"),
    ("latency-model eval --csv a folder", ["latency-model", "eval", "{world}/model.json", "--csv",
                                           "{world}/tables.csv"], "is a folder"),
    ("blocks --csv a folder", ["blocks", "--csv", "{world}/tables.csv"], "is a folder"),
    ("results --csv a folder", ["results", "{world}/runs/legacy", "--csv", "{world}/tables.csv"],
     "is a folder"),
    ("replay --csv under a file", ["replay", "{world}/runs/bench-fake", "--csv",
                                   "{world}/a_file/r.csv"], "is a file, not a folder"),
    # profile --from (latency truth)
    ("profile --from a missing file", ["profile", "--from", "{world}/nowhere.txt"],
     "no such file or run folder"),
    ("profile --from an empty file", ["profile", "--from", "{world}/archs-empty.txt"],
     "holds no architecture"),
    ("profile --from a line that is not an architecture", ["profile", "--from",
                                                           "{world}/archs-bad.txt"], "line 3:"),
    ("profile --from a run without complete trials", ["profile", "--from", "{world}/runs/tiny-study"],
     "has no complete trial"),
    ("profile --from with one round", ["profile", "--from", "{world}/archs-bad.txt", "--rounds", "1"],
     "a number of rounds from 2 to 1000"),
    ("latency-model eval with one round", ["latency-model", "eval", "{world}/model.json",
                                           "--rounds", "1"], "--rounds"),
    # NAS-Bench-201
    ("an NB201 string with an unknown operation",
     ["profile", "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"],
     "unknown NAS-Bench-201 operation 'conv_5x5'"),
    ("an NB201 string with a wrong node index",
     ["profile", "|none~0|+|none~0|none~0|+|none~0|none~1|none~2|"], "must come from node 1"),
    *[(f"bench-import into a study named {name!r}",
       ["bench-import", "nb201", "--latency", "{world}/latency-short.pt", "--index",
        "{world}/index-full.pt", "--runs-dir", "{world}/runs", "--study", name],
       "--study must be a plain name") for name in ("../escaped", "/tmp/absolute", "a/b", "x;y",
                                                    "two\nlines", "$(touch pwned)", ".hidden")],
    ("bench-import naming its table after a latency file that is no plain name",
     ["bench-import", "nb201", "--latency", "{world}/odd name;x.pt", "--index",
      "{world}/index-full.pt", "--runs-dir", "{world}/runs"], "give one"),
    ("bench-import of a missing latency file",
     ["bench-import", "nb201", "--latency", "{world}/nowhere.pt", "--index", "{world}/index-full.pt",
      "--runs-dir", "{world}/runs"], "not found"),
    ("bench-import of an index map that is not the published one",
     ["bench-import", "nb201", "--latency", "{world}/latency-short.pt", "--index",
      "{world}/index-short.pt", "--runs-dir", "{world}/runs"], "not NAS-Bench-201's string"),
    ("bench-import of a latency list of the wrong length",
     ["bench-import", "nb201", "--latency", "{world}/latency-short.pt", "--index",
      "{world}/index-full.pt", "--runs-dir", "{world}/runs"], "expected 15,625 figures, got 10"),
    ("search --accuracy-from a table of another space",
     ["search", "--space", "nb201", "--accuracy-from", "{world}/runs/bench-fake"],
     "is a table of space"),
    ("search --accuracy-from a folder that is no table",
     ["search", "--space", "nb201", "--accuracy-from", "{world}/nowhere"], "no bench table"),
    ("profile of an architecture and --from", ["profile", ARCH, "--from", "{world}/archs-bad.txt"],
     "give one architecture, or --from FILE"),
    ("profile of nothing", ["profile"], "give one architecture, or --from FILE"),
    ("search on an unknown clock", ["search", "--latency-clock", "sundial"], "invalid choice"),
    # 10. smaller
    ("replay of another parquet file", ["replay", "{world}/runs/bench-fake/other.parquet"],
     "is not a bench's table.parquet"),
    ("an infinite latency limit", ["search", "--max-latency-ms", "inf"], "positive, finite number"),
    ("a CIFAR batch of floats", ["search", "--dataset", "cifar10", "--data-dir", "{world}/cifarfloat"],
     "must be a uint8 array"),
    ("a runs folder with a name too long", ["search", "--runs-dir", "{world}/" + "y" * 300],
     "too long for the file system"),
    ("export --out with a name too long", ["export", "{world}/runs/legacy", "--out",
                                           "{world}/" + "y" * 300], "longer than this file system"),
]


_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _fingerprint(path: Path) -> str:
    """A file's hash; for a readable SQLite database, the hash of its content (every table's
    rows, as ``.dump`` gives them): in write-ahead-log mode the bytes of ``study.db`` move between it
    and ``study.db-wal`` at checkpoints while the study stays the same."""
    data = path.read_bytes()
    if data.startswith(b"SQLite format 3\x00"):
        import sqlite3

        con = sqlite3.connect(path)
        try:
            data = "\n".join(con.iterdump()).encode()
        except sqlite3.DatabaseError:  # the damaged databases of the bad-input cases: bytes
            pass
        finally:
            con.close()
    return hashlib.sha256(data).hexdigest()


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): _fingerprint(p) if p.is_file() else "dir"
            for p in sorted(root.rglob("*")) if not p.name.endswith(_SQLITE_SIDE_FILES)}


@pytest.mark.parametrize("args,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(world: Path, args: list[str], words: str, capsys: pytest.CaptureFixture,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process through the CLI's entry point, from the repository root as a user would run
    it (``test_bad_input_as_a_process`` checks the same contract on real processes)."""
    from nasbench.cli.commands import main

    monkeypatch.chdir(ROOT)
    args = [a.format(world=world) for a in args]
    if args[0] in ("search", "bench") and "--runs-dir" not in args:
        args += ["--runs-dir", str(world / "runs")]
    before, repo_runs = _snapshot(world), _snapshot(ROOT / "runs") if (ROOT / "runs").is_dir() else {}
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's refusal
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert words.format(world=world) in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    assert _snapshot(world) == before
    assert (_snapshot(ROOT / "runs") if (ROOT / "runs").is_dir() else {}) == repo_runs


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["unknown sampler", "export with no finished trial",
                                  "unknown command", "results of a damaged database",
                                  "confirm with no complete trial"])
def test_bad_input_as_a_process(world: Path, name: str) -> None:
    """The same contract seen from outside: exit status 2, one line on stderr, nothing else."""
    args, words = next((a, w) for n, a, w in CASES if n == name)
    args = [a.format(world=world) for a in args]
    if args[0] in ("search", "bench") and "--runs-dir" not in args:
        args += ["--runs-dir", str(world / "runs")]
    before = _snapshot(world)
    proc = subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words.format(world=world) in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert _snapshot(world) == before


def test_every_command_has_bad_input_cases() -> None:
    """The table covers the CLI as it is: a new subcommand without a case fails here."""
    from nasbench.cli.arguments import build_parser
    from nasbench.cli.commands import COMMANDS
    from nasbench.cli.reference import commands

    top = {name for name, _, _ in commands(build_parser(COMMANDS)) if " " not in name}
    covered = {args[0] for _, args, _ in CASES}
    assert top == set(COMMANDS) and set(COMMANDS) <= covered


def _options() -> list[tuple[str, str, str]]:
    """(command, option, malformed value) for every option of every command that takes a
    number or a name from a list: a word where a number belongs, a negative number, a name
    that is not on the list."""
    from nasbench.cli.arguments import build_parser
    from nasbench.cli.commands import COMMANDS
    from nasbench.cli.reference import commands

    cases = []
    for command, _, subparser in commands(build_parser(COMMANDS)):
        if " " in command:  # sub-actions (latency-model fit…) are their command's
            continue
        for action in subparser._actions:
            if not action.option_strings or action.nargs == 0 or action.dest == "help":
                continue
            flag = action.option_strings[-1]
            if action.type in (int, float) or getattr(action.type, "__name__", "") in (
                    "positive_int", "non_negative_int", "train_samples", "training_threads", "rounds",
                    "port"):
                cases += [(command, flag, "many"), (command, flag, "-5")]
            elif action.choices or action.dest in ("sampler", "space", "dataset", "device"):
                cases.append((command, flag, "bogus"))
    return cases


_POSITIONAL = {"profile": ["mobilenet_v2"], "results": ["{world}/runs/legacy"],
               "export": ["{world}/runs/legacy", "--out", "{world}/never"], "train": [ARCH],
               "confirm": ["{world}/runs/legacy"],
               "replay": ["{world}/nowhere"], "worker": ["--storage", "sqlite:///{world}/x.db",
                                                         "--study", "x"], "dashboard": ["{world}"]}


@pytest.mark.parametrize("command,flag,value", _options(), ids=lambda v: str(v))
def test_every_option_refuses_malformed_values(world: Path, command: str, flag: str, value: str,
                                               capsys: pytest.CaptureFixture) -> None:
    """In-process through the CLI's entry point: no traceback, one line, exit 2."""
    from nasbench.cli.commands import main

    args = [command, *[a.format(world=world) for a in _POSITIONAL.get(command, [])], flag, value]
    if command in ("search", "bench", "train"):
        args += ["--runs-dir", str(world / "runs")]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's refusal
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, (args, code, err)
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], (args, err)


@pytest.mark.parametrize("args", [["results", "{world}/runs/damagedwal"],
                                  ["confirm", "{world}/runs/damagedwal"],
                                  ["export", "{world}/runs/damagedwal", "--out", "{world}/out"],
                                  ["search", "--study", "damagedwal", "--space", "tiny",
                                   "--runs-dir", "{world}/runs"]],
                         ids=["results", "confirm", "export", "search"])
def test_a_damaged_database_gets_no_new_files_beside_it(world: Path, args: list[str]) -> None:
    """"Nothing was written" holds to the letter: not even the empty log files (-wal, -shm)
    that opening a database in write-ahead-log mode makes SQLite create."""
    from nasbench.cli.commands import main

    folder = world / "runs" / "damagedwal"
    before = sorted(p.name for p in folder.iterdir())
    assert main([a.format(world=world) for a in args]) == 2
    assert sorted(p.name for p in folder.iterdir()) == before == ["study.db"]


@pytest.mark.e2e
@pytest.mark.parametrize("epochs", ["1", "4"])
def test_a_new_folder_study_takes_the_epochs_asked_for(tmp_path: Path, epochs: str) -> None:
    """A new ``folder`` (or ``cifar10``) study with any ``--epochs`` runs, and the same command
    resumes it: the settings are checked against what the command asked for, not against the
    CPU proxy's default of 3 epochs."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", 12), ("test", 3)):
        for name in ("a", "b", "c"):
            (tmp_path / "data" / split / name).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)).save(
                    tmp_path / "data" / split / name / f"{i}.png")
    args = [sys.executable, "cli.py", "search", "--dataset", "folder", "--data-dir",
            str(tmp_path / "data"), "--resolution", "8", "--space", "tiny", "--epochs", epochs,
            "--runs-dir", str(tmp_path / "runs"), "--no-confirm", "--json"]
    for budget in ("1", "2"):  # created, then resumed with a larger budget
        proc = subprocess.run(args + ["--budget", budget], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    import json

    study = open_study(SearchConfig(space="tiny", dataset="folder", data_dir=str(tmp_path / "data"),
                                    resolution=8, epochs=int(epochs), runs_dir=str(tmp_path / "runs")))
    from nasbench.study.study_record import StudyRecord

    assert StudyRecord.of(study).identity["epochs"] == int(epochs)
    assert json.loads(proc.stdout)["complete"] == 2
