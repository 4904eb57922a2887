import numpy as np
from irt_testlib import make_bank

from cat_server import irt


def test_simulation_report_is_sensible():
    bank = make_bank(300, seed=5)
    rng = np.random.default_rng(1)
    theta = rng.normal(size=300)
    cfg = irt.CatConfig(max_length=20, exposure="randomesque", cut=0.5)
    rep = irt.simulate_cat(bank, cfg, theta, rng)
    for key in (
        "rmse",
        "bias",
        "mean_se",
        "mean_length",
        "max_exposure",
        "overlap",
        "seconds",
        "per_bin",
        "accuracy",
        "exposure_above_0_2",
    ):
        assert key in rep
    assert rep["mean_length"] == 20
    assert rep["rmse"] < 0.45 and abs(rep["bias"]) < 0.1
    assert abs(rep["mean_se"] - rep["rmse"]) < 0.1
    assert rep["accuracy"] > 0.8
    assert sum(b["n"] for b in rep["per_bin"]) == 300
    assert 0 < rep["overlap"] < 1


def test_overlap_formula_on_a_linear_test():
    bank = make_bank(10, seed=1)
    n_ops = int(bank.operational.sum())
    rep = irt.simulate_cat(
        bank, irt.CatConfig(max_length=n_ops), np.zeros(5), np.random.default_rng(0)
    )
    assert abs(rep["overlap"] - 1.0) < 1e-12


def test_variable_length_and_final_estimators():
    bank = make_bank(300, seed=6)
    rng = np.random.default_rng(3)
    theta = rng.normal(size=120)
    cfg = irt.CatConfig(min_length=5, max_length=40, se_target=0.35)
    for est in ("eap", "wle"):
        rep = irt.simulate_cat(bank, cfg, theta, np.random.default_rng(3), final_estimator=est)
        assert rep["mean_length"] < 40 and rep["rmse"] < 0.5


def test_sympson_hetter_parameters_lower_the_maximum_exposure():
    bank = make_bank(200, seed=8)
    cfg = irt.CatConfig(max_length=15)
    rng = np.random.default_rng(4)
    theta = rng.normal(size=300)
    plain = irt.simulate_cat(bank, cfg, theta, np.random.default_rng(0))
    k = irt.sympson_hetter_parameters(bank, cfg, rng, r_max=0.3, n_examinees=300, n_rounds=5)
    assert np.all((k > 0) & (k <= 1))
    sh = irt.CatConfig(max_length=15, exposure="sympson-hetter", sh_k=k)
    rep = irt.simulate_cat(bank, sh, theta, np.random.default_rng(0))
    assert plain["max_exposure"] > 0.6
    assert rep["max_exposure"] < 0.42
    assert rep["rmse"] < plain["rmse"] + 0.08
