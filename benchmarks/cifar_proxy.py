"""Does the CPU proxy rank architectures as longer training does? Measured on real CIFAR-10.

    python benchmarks/cifar_proxy.py [--data-dir ../shared/datasets/cifar10] [--archs 8]
        [--long-train 7500] [--long-epochs 5]

Draws ``--archs`` architectures of the ``mixed`` space (seeded, distinct; those whose expected
proxy time exceeds ``--max-proxy-s`` are skipped and listed), trains each under
the default CPU proxy of ``search --dataset folder`` (a stratified subset of the training split,
the proxy's epochs: see ``nasbench.train.recipe.cpu_proxy``) and under longer training (more images,
more epochs, the whole validation split), with the same seed, and prints per architecture the
validation accuracy and seconds of both, the proxy's expected seconds as the search prints them
before it starts (a few timed steps), then the Spearman and Kendall rank correlations
between the two accuracies, and the proxy's seconds per trial (median, min, max). The proxy
is meant to rank architectures, not to finish them: a high rank correlation at a small cost is
what it must show.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import numpy as np
    import torch
    from scipy.stats import kendalltau, spearmanr

    from nasbench.spec.arch import decode
    from nasbench.workflows.bench_run import architectures
    from nasbench.workflows.settings import BenchConfig
    from nasbench.nn.build import build_model
    from nasbench.train.data import load_dataset
    from nasbench.measure.conditions import cpu_model
    from nasbench.workflows.settings import SearchConfig
    from nasbench.train.proxy import expected_seconds, train_model
    from nasbench.train.recipe import default_train_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets" / "cifar10"))
    parser.add_argument("--archs", type=int, default=6)
    parser.add_argument("--max-proxy-s", type=float, default=120.0,
                        help="skip architectures whose expected proxy time is longer (keeps the "
                             "check within the hour; the skipped ones are listed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--long-train", type=int, default=7500)
    parser.add_argument("--long-epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    proxy = SearchConfig(dataset="folder", data_dir=args.data_dir, seed=args.seed)  # the defaults
    threads = args.threads or proxy.threads
    cache = ROOT / "runs" / ".cache"
    data = {"proxy": load_dataset("folder", args.data_dir, 32, seed=args.seed, cache_dir=cache,
                                  max_train=proxy.max_train, max_val=proxy.max_val),
            "long": load_dataset("folder", args.data_dir, 32, seed=args.seed, cache_dir=cache,
                                 max_train=args.long_train)}
    train_configs = {"proxy": proxy.train_config(),
                     "long": default_train_config("folder", args.long_epochs)}
    cache_file = cache / "cifar_proxy_long.json"  # long runs do not depend on the proxy: kept
    long_cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    shape_data = data["proxy"]
    from search_spaces import DataShape

    shape = DataShape(shape_data.resolution, shape_data.channels, len(shape_data.classes))
    drawn = architectures(BenchConfig(space="mixed", sample=4 * args.archs, seed=args.seed), shape)
    print(f"CIFAR-10 from {args.data_dir}, 32x32, {cpu_model()}, {threads} training threads, "
          f"torch {torch.__version__}")
    for name in ("proxy", "long"):
        c = train_configs[name]
        print(f"  {name}: {len(data[name].y_train)} training images, {len(data[name].y_val)} "
              f"validation images (a stratified subset of the same split), {c.epochs} epochs, "
              f"{c.optimizer} lr {c.lr:g}, batch {c.batch_size}")
    print("  (long runs are cached in runs/.cache/cifar_proxy_long.json: they do not depend on the proxy)")
    rows, skipped = [], []
    for string in drawn:
        if len(rows) == args.archs:
            break
        row = {"arch": string}
        row["expected_s"] = expected_seconds([build_model(decode(string), seed=args.seed)],
                                             data["proxy"], train_configs["proxy"], threads=threads)
        if row["expected_s"] > args.max_proxy_s:
            skipped.append(row)
            print(f"   skipped (expected {row['expected_s']:.0f} s > {args.max_proxy_s:.0f} s): {string}",
                  flush=True)
            continue
        i = len(rows)
        for name in ("proxy", "long"):
            key = f"{string}|{args.long_train}|{train_configs['long']}|{args.seed}|{threads}"
            if name == "long" and key in long_cache:
                row["long_acc"], row["long_s"] = long_cache[key]
                continue
            model = build_model(decode(string), seed=args.seed)
            start = time.perf_counter()
            result = train_model(model, data[name], train_configs[name], seed=args.seed,
                                 threads=threads)
            row[f"{name}_acc"] = result.val_accuracy
            row[f"{name}_s"] = time.perf_counter() - start
            if name == "long":
                long_cache[key] = [row["long_acc"], row["long_s"]]
                cache_file.write_text(json.dumps(long_cache, indent=1))
        rows.append(row)
        print(f"{i:>2} proxy {row['proxy_acc']:.4f} ({row['proxy_s']:5.1f} s, expected "
              f"{row['expected_s']:5.1f} s)  long "
              f"{row['long_acc']:.4f} ({row['long_s']:6.1f} s)  {string}", flush=True)
    proxy_acc = np.array([r["proxy_acc"] for r in rows])
    long_acc = np.array([r["long_acc"] for r in rows])
    rho, p_rho = spearmanr(proxy_acc, long_acc)
    tau, p_tau = kendalltau(proxy_acc, long_acc)
    seconds = [r["proxy_s"] for r in rows]
    print(f"Spearman rho {rho:.3f} (p {p_rho:.3g}), Kendall tau {tau:.3f} (p {p_tau:.3g}) over "
          f"{len(rows)} architectures")
    print(f"proxy seconds per trial: median {statistics.median(seconds):.1f}, min {min(seconds):.1f}, "
          f"max {max(seconds):.1f}; expected/actual: median "
          f"{statistics.median([r['expected_s'] / r['proxy_s'] for r in rows]):.2f}; long: median {statistics.median([r['long_s'] for r in rows]):.1f}")
    every = [r["expected_s"] for r in rows + skipped]
    print(f"expected proxy seconds over all {len(every)} architectures drawn (skipped ones "
          f"included): median {statistics.median(every):.1f}, max {max(every):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
