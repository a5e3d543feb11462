"""Latency measurement: statistics, conditions, options; the CUDA path where a GPU exists."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasbench.build import build_model
from nasbench.arch import decode
from nasbench.env import tune_allocator
from nasbench.latency import measure_latency, summarize

SMALL = decode("res16_in3_cls10:stem_c8_k3_s1_arelu:ir_r1_k3_s2_e3_c16_arelu:head")


def test_summarize_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    values = list(rng.lognormal(0.0, 0.3, size=101))
    stats = summarize(values)
    assert stats.median_ms == pytest.approx(np.median(values))
    assert stats.p90_ms == pytest.approx(np.percentile(values, 90))
    q75, q25 = np.percentile(values, [75, 25])
    assert stats.iqr_ms == pytest.approx(q75 - q25)
    assert stats.cv == pytest.approx(np.std(values, ddof=1) / np.mean(values))
    assert stats.samples == 101 and stats.min_ms == min(values)
    with pytest.raises(ValueError):
        summarize([])


def test_cpu_latency_has_sane_statistics_and_conditions() -> None:
    model = build_model(SMALL)
    threads_before = torch.get_num_threads()
    result = measure_latency(model, (3, 16, 16), threads=1, batch=2, min_time_s=0.2,
                             min_samples=10, warmup_s=0.05)
    s = result.stats
    assert 0 < s.min_ms <= s.median_ms <= s.p90_ms
    assert s.iqr_ms >= 0 and s.cv >= 0 and s.samples >= 10
    assert result.runs_per_sample >= 1
    assert s.median_ms < 1000
    c = result.conditions
    assert (c.device, c.threads, c.batch, c.dtype, c.memory_format) == \
        ("cpu", 1, 2, "float32", "contiguous")
    assert c.torch_version == torch.__version__ and c.cpu_model and c.device_name.startswith("CPU")
    assert torch.get_num_threads() == threads_before
    assert model.training  # the caller's model is untouched


def test_channels_last_and_bfloat16_run() -> None:
    result = measure_latency(build_model(SMALL), (3, 16, 16), memory_format="channels_last",
                             dtype="bfloat16", min_time_s=0.05, min_samples=3, warmup_s=0.01)
    assert result.conditions.memory_format == "channels_last"
    assert result.conditions.dtype == "bfloat16"


def test_more_work_takes_longer() -> None:
    small = measure_latency(build_model(SMALL), (3, 16, 16), min_time_s=0.2, warmup_s=0.05)
    big = measure_latency(build_model(SMALL), (3, 128, 128), min_time_s=0.2, warmup_s=0.05)
    # 64× the pixels (the small run is mostly framework overhead): a timer that did not time the model could not tell them apart.
    assert big.median_ms > 3 * small.median_ms


@pytest.mark.parametrize("kwargs,match", [
    ({"dtype": "float64"}, "dtype"),
    ({"memory_format": "nchw"}, "memory format"),
    ({"threads": 0}, "threads"),
    ({"device": "tpu"}, "device"),
    ({"dtype": "float16"}, "float16 is for CUDA"),
])
def test_bad_options_are_clear_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        measure_latency(build_model(SMALL), (3, 16, 16), **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no CUDA GPU"):
        measure_latency(build_model(SMALL), (3, 16, 16), device="cuda")


def test_allocator_is_tuned_on_glibc() -> None:
    import platform

    label = tune_allocator()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert label == "glibc mmap/trim thresholds raised"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_latency_synchronizes() -> None:
    result = measure_latency(build_model(SMALL), (3, 16, 16), device="cuda", min_time_s=0.2)
    assert result.conditions.device == "cuda"
    assert 0 < result.stats.median_ms <= result.stats.p90_ms
    big = measure_latency(build_model(SMALL), (3, 256, 256), device="cuda", batch=8, min_time_s=0.2)
    assert big.median_ms > result.median_ms
