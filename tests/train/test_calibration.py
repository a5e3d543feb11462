"""BatchNorm calibration before each evaluation, and what the default search records about it."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from nasbench.spec.arch import decode
from nasbench.workflows.settings import BenchConfig
from nasbench.nn.build import build_model
from nasbench.workflows.confirm import BUDGET_S, BURST_S, WARMUP_S, burst_times
from nasbench.train.data import _digits_file, _read_digits, load_dataset
from nasbench.errors import SearchError
from nasbench.workflows.search_study import _set_up_search, settled
from nasbench.workflows.settings import SearchConfig
from nasbench.train.proxy import calibrate_batchnorm, train_model
from nasbench.train.recipe import DEFAULT_BN_CALIBRATION, DIGITS_SEARCH_EPOCHS, TrainConfig, default_train_config

# Scores chance (0.097) after one epoch of digits with the running averages, 0.94 calibrated.
SLOW_STARTER = ("res8_in1_cls10:stem_c16_k3_s1_arelu:ir_r2_k7_s1_e3_c32_se0.25_arelu:"
                "ir_r1_k3_s2_e1_c48_arelu:ir_r1_k5_s2_e1_c64_se0.25_arelu:"
                "conv_r1_k5_s1_c80_se0.25_arelu:head_d0.1")


def test_calibration_replaces_the_running_statistics_with_those_of_the_images() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    x = torch.randn(64, 3, 5, 5) * 3 + 2
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k}
    calibrate_batchnorm(net, x, batch_size=64)
    with torch.no_grad():
        features = net[0](x)
    bn = net[1]
    torch.testing.assert_close(bn.running_mean, features.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(bn.running_var, features.var(dim=(0, 2, 3), unbiased=True))
    assert bn.momentum == 0.1  # restored
    for key, value in weights.items():
        if key != "1.num_batches_tracked":
            assert torch.equal(net.state_dict()[key], value), key
    # In several batches, the statistics are the average of the batches' (a cumulative average).
    calibrate_batchnorm(net, x, batch_size=16)
    with torch.no_grad():
        means = torch.stack([net[0](x[i:i + 16]).mean(dim=(0, 2, 3)) for i in range(0, 64, 16)])
    torch.testing.assert_close(bn.running_mean, means.mean(0))


def test_calibration_shows_what_one_epoch_taught_where_the_running_averages_hide_it() -> None:
    data = load_dataset("digits")
    arch = decode(SLOW_STARTER)
    plain = train_model(build_model(arch, seed=1), data, TrainConfig(epochs=1), seed=1, threads=1)
    calibrated = train_model(build_model(arch, seed=1), data,
                             TrainConfig(epochs=1, bn_calibration=256), seed=1, threads=1)
    # The same weights (calibration comes after the epoch's steps), judged two ways.
    assert plain.final_loss == pytest.approx(calibrated.final_loss)
    assert calibrated.val_accuracy > plain.val_accuracy + 0.4, (plain.val_accuracy,
                                                                calibrated.val_accuracy)


def test_training_is_reproducible_with_calibration() -> None:
    data = load_dataset("digits")
    arch = decode(SLOW_STARTER)
    config = default_train_config("digits", 2, bn_calibration=DEFAULT_BN_CALIBRATION)
    runs = [train_model(build_model(arch, seed=3), data, config, seed=3, threads=1)
            for _ in range(2)]
    assert runs[0].val_accuracy_per_epoch == runs[1].val_accuracy_per_epoch


def test_bad_calibration_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="--bn-calibration"):
        TrainConfig(bn_calibration=-1)
    with pytest.raises(SearchError, match="--bn-calibration"):
        SearchConfig(bn_calibration=-5).validate()


def _study(config: SearchConfig) -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"])
    _set_up_search(study, config)
    return study


def test_a_new_study_records_calibration_and_the_epochs_it_trains() -> None:
    study = _study(SearchConfig())
    recorded = study.user_attrs["config"]
    assert recorded["bn_calibration"] == DEFAULT_BN_CALIBRATION == 256
    assert recorded["epochs"] == DIGITS_SEARCH_EPOCHS == 2 and study.user_attrs["settings"]["epochs"] == 2
    config = settled(SearchConfig(), study)
    assert (config.bn_calibration, config.epochs) == (256, 2)
    assert config.train_config().bn_calibration == 256 and config.train_config().epochs == 2
    _set_up_search(study, SearchConfig())  # resumes
    _set_up_search(study, SearchConfig(epochs=2, bn_calibration=256))  # the same, said
    with pytest.raises(SearchError, match="bn_calibration=256 \\(now 0\\)"):
        _set_up_search(study, SearchConfig(bn_calibration=0))
    with pytest.raises(SearchError, match="epochs=2 \\(now 6\\)"):
        _set_up_search(study, SearchConfig(epochs=6))


def test_a_study_made_with_four_epochs_resumes_with_four() -> None:
    study = _study(SearchConfig(epochs=4))  # what a new study recorded before the proxy was 2
    config = settled(SearchConfig(), study)
    assert config.epochs == 4 and config.train_config().epochs == 4
    _set_up_search(study, SearchConfig())  # the same command resumes it as it was made
    with pytest.raises(SearchError, match="epochs=4 \\(now 2\\)"):
        _set_up_search(study, SearchConfig(epochs=2))


def test_train_keeps_four_epochs_of_digits_and_other_datasets_their_own() -> None:
    assert default_train_config("digits").epochs == 4  # `train`: the chosen one, trained longer
    assert SearchConfig(device="cuda").train_config().epochs == DIGITS_SEARCH_EPOCHS
    assert SearchConfig(dataset="cifar10", device="cuda").train_config().epochs == 5
    assert SearchConfig(dataset="cifar10").train_config().epochs == 3  # the CPU proxy
    assert SearchConfig(epochs=7).train_config().epochs == 7


def test_a_study_made_before_calibration_resumes_as_it_was_made() -> None:
    study = _study(SearchConfig())
    for attr in ("config", "settings"):  # what versions before calibration recorded
        old = {k: v for k, v in study.user_attrs[attr].items() if k != "bn_calibration"}
        study.set_user_attr(attr, {**old, "epochs": None})
    config = settled(SearchConfig(), study)
    assert (config.bn_calibration, config.epochs) == (0, 6)  # digits trained 6 epochs then
    assert config.train_config().bn_calibration == 0 and config.train_config().epochs == 6
    _set_up_search(study, SearchConfig())
    _set_up_search(study, SearchConfig(epochs=6, bn_calibration=0))
    with pytest.raises(SearchError, match="bn_calibration=0 \\(now 256\\)"):
        _set_up_search(study, SearchConfig(bn_calibration=256))


def test_a_bench_records_calibration_and_its_epochs() -> None:
    identity = BenchConfig().identity()
    assert identity["bn_calibration"] == 256 and identity["epochs"] == DIGITS_SEARCH_EPOCHS
    assert BenchConfig(bn_calibration=0).train_config().bn_calibration == 0
    assert SearchConfig(space="tiny", bn_calibration=256).train_config() == BenchConfig().train_config()


def test_digits_are_read_as_scikit_learn_reads_them() -> None:
    from sklearn.datasets import load_digits

    assert _digits_file() is not None
    images, target, *_ = _read_digits()
    digits = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[:, 0], np.rint(digits.images * (255.0 / 16.0)))
    np.testing.assert_array_equal(target, digits.target)


def test_confirmation_bursts_shrink_to_fit_the_budget_with_many_candidates() -> None:
    assert burst_times(3, 15) == (BURST_S, WARMUP_S)  # few: as before
    burst, warmup = burst_times(6, 15)
    assert burst < BURST_S and warmup < WARMUP_S
    assert 6 * 15 * (burst + warmup) == pytest.approx(BUDGET_S)
    assert burst_times(500, 15) == (0.01, 0.004)  # never below a few blocks
