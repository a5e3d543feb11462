"""Do latencies measured during a 2-worker search agree with a 1-worker search?

Runs the same architectures (the first N of the ``tiny`` space's enumeration, enqueued in the
same order) once with 1 worker and once with 2 workers training side by side on this machine,
and compares each architecture's median latency. The quiet slot (``nasbench.measure.quiet``) should
keep training in one worker from inflating the other's measurements. For contrast, a third run
measures while a separate process trains a network flat out, outside the slot.

    python benchmarks/workers_latency.py [--archs 12]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOG = """
import torch, time
torch.set_num_threads(1)
x = torch.randn(256, 64, 32, 32)
conv = torch.nn.Conv2d(64, 64, 3, padding=1)
end = time.time() + 600
while time.time() < end:
    conv(x).sum().backward()
"""


def run(label: str, workers: int, archs: int, runs_dir: str, hog: bool = False) -> dict[str, dict]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from nasbench.workflows.search_study import open_study
    from nasbench.workflows.settings import SearchConfig
    from search_spaces import DataShape, TinySpace, enumerate_space

    config = SearchConfig(space="tiny", sampler="random", budget=archs, epochs=2, threads=1,
                          runs_dir=runs_dir, study=label, latency_time_s=1.0)
    study = open_study(config)
    for params, _ in enumerate_space(TinySpace(), DataShape(8, 1, 10))[:: 576 // archs][:archs]:
        study.enqueue_trial(params)
    hog_proc = subprocess.Popen([sys.executable, "-c", HOG]) if hog else None
    try:
        subprocess.run([sys.executable, "cli.py", "search", "--space", "tiny", "--sampler", "random",
                        "--budget", str(archs), "--epochs", "2", "--threads", str(workers),
                        "--workers", str(workers), "--runs-dir", runs_dir, "--study", label],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        if hog_proc:
            hog_proc.kill()
    study = open_study(config)
    return {t.user_attrs["arch"]: t.user_attrs["latency"] for t in study.get_trials()
            if t.state.name == "COMPLETE" and "latency" in t.user_attrs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.time()
        one = run("one-worker", 1, args.archs, tmp)
        two = run("two-workers", 2, args.archs, tmp)
        again = run("one-worker-again", 1, args.archs, tmp)
        noisy = run("one-worker-with-hog", 1, args.archs, tmp, hog=True)
        elapsed = time.time() - started
    common = [a for a in one if a in two and a in noisy and a in again]
    print(f"{len(common)} architectures of the tiny space on digits, latency median at batch 1, "
          f"1 thread ({elapsed:.0f} s in all)")
    print(f"{'1 worker ms':>12} {'2 workers ms':>13} {'ratio':>6} {'within spread':>14}   "
          f"{'hog ms':>7} {'ratio':>6}")
    ratios, agree, hog_ratios = [], 0, []
    for arch in common:
        a, b, c = one[arch], two[arch], noisy[arch]
        ratio = b["median_ms"] / a["median_ms"]
        spread = 2 * (a["iqr_ms"] + b["iqr_ms"])
        ok = abs(b["median_ms"] - a["median_ms"]) <= spread
        agree += ok
        ratios.append(ratio)
        hog_ratios.append(c["median_ms"] / a["median_ms"])
        print(f"{a['median_ms']:12.3f} {b['median_ms']:13.3f} {ratio:6.3f} {str(ok):>14}   "
              f"{c['median_ms']:7.3f} {hog_ratios[-1]:6.3f}")
    rerun = [again[a]["median_ms"] / one[a]["median_ms"] for a in common]
    print(f"\nrun-to-run baseline, 1 worker again / 1 worker: median ratio "
          f"{statistics.median(rerun):.3f} (range {min(rerun):.3f}-{max(rerun):.3f})")
    print(f"2 workers / 1 worker: median ratio {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}); {agree}/{len(common)} within 2x the "
          f"summed IQRs")
    print(f"with an outside trainer (no quiet slot): median ratio {statistics.median(hog_ratios):.3f} "
          f"(range {min(hog_ratios):.3f}-{max(hog_ratios):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
