import tracemalloc

import numpy as np
import pytest
from irt_testlib import make_bank
from numpy.testing import assert_allclose, assert_array_equal

from cat_server import irt
from cat_server.irt import simulation


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


DETERMINISTIC = [
    irt.CatConfig(max_length=20),
    irt.CatConfig(max_length=20, content={"TWK": 0.3, "TIU": 0.3, "TKP": 0.4}),
    irt.CatConfig(
        min_length=5,
        max_length=25,
        se_target=0.35,
        content={"TWK": (3, 8), "TIU": (2, 10), "TKP": (5, 9)},
    ),
    irt.CatConfig(min_length=5, max_length=30, cut=0.3, classification="sprt"),
    irt.CatConfig(min_length=5, max_length=30, cut=0.3, classification="ci"),
    irt.CatConfig(max_length=20, selection="pwi"),
    irt.CatConfig(
        max_length=20,
        exposure="sympson-hetter",
        sh_k=np.random.default_rng(0).uniform(0.2, 1.0, 300),
    ),
]


@pytest.mark.parametrize("cfg", DETERMINISTIC)
def test_block_simulation_gives_each_candidate_the_test_step_gives(cfg, monkeypatch):
    # candidates advance together on (block, n_items) arrays; with no random
    # exposure draw every candidate must get exactly the items of step() one by one
    bank = make_bank(300, seed=5)
    theta = np.random.default_rng(1).normal(size=300)

    def run():
        return irt.simulate_cat(
            bank, cfg, theta, np.random.default_rng(3), return_details=True, block=128
        )

    fast = run()
    monkeypatch.setattr(simulation, "_run_block", simulation._run_loop)
    slow = run()
    for a, b in zip(fast["details"]["items"], slow["details"]["items"], strict=True):
        assert_array_equal(a, b)
    assert_allclose(fast["details"]["estimate"], slow["details"]["estimate"], atol=1e-9)
    assert fast["stop_reasons"] == slow["stop_reasons"]
    groups = bank.enemy[np.concatenate(fast["details"]["items"])]
    assert fast["mean_length"] == slow["mean_length"]
    assert groups.size  # the bank's enemy groups were in play


@pytest.mark.parametrize("exposure", ["randomesque", "progressive"])
def test_block_simulation_random_exposure_matches_step_in_distribution(exposure, monkeypatch):
    bank = make_bank(300, seed=5)
    theta = np.random.default_rng(2).normal(size=1500)
    cfg = irt.CatConfig(max_length=20, exposure=exposure)
    fast = irt.simulate_cat(bank, cfg, theta, np.random.default_rng(4))
    monkeypatch.setattr(simulation, "_run_block", simulation._run_loop)
    slow = irt.simulate_cat(bank, cfg, theta, np.random.default_rng(4))
    assert abs(fast["rmse"] - slow["rmse"]) < 0.02
    assert abs(fast["max_exposure"] - slow["max_exposure"]) < 0.05
    assert abs(fast["overlap"] - slow["overlap"]) < 0.02


def test_many_candidates_use_memory_by_block_not_by_candidate():
    # a final re-estimate used to build an (n_examinees, n_items) matrix
    bank = make_bank(300, seed=5)
    theta = np.random.default_rng(1).normal(size=20_000)
    cfg = irt.CatConfig(max_length=10)
    tracemalloc.start()
    try:
        rep = irt.simulate_cat(bank, cfg, theta, np.random.default_rng(0), final_estimator="wle")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rep["n"] == 20_000 and rep["rmse"] < 0.6
    assert peak < 64 * 2**20, peak  # before: > 300 MB (the matrix and WLE on all rows at once)


def answers_by_item(details):
    return [
        dict(zip(i.tolist(), s.tolist(), strict=True))
        for i, s in zip(details["items"], details["scores"], strict=True)
    ]


def test_runs_with_and_without_exposure_control_meet_the_same_candidates():
    # the answers are drawn from the generator in the same order whatever the
    # exposure rule: an item two runs both gave a candidate got the same answer
    bank = make_bank(300, seed=5)
    theta = np.random.default_rng(1).normal(size=400)
    runs = [
        irt.simulate_cat(bank, cfg, theta, np.random.default_rng(8), return_details=True)
        for cfg in (
            irt.CatConfig(max_length=20),
            irt.CatConfig(max_length=20, exposure="randomesque", randomesque_k=8),
            irt.CatConfig(max_length=20, max_exposure_rate=0.2),  # candidate by candidate
        )
    ]
    plain, *others = [answers_by_item(r["details"]) for r in runs]
    shared = 0
    for other in others:
        for a, b in zip(plain, other, strict=True):
            common = a.keys() & b.keys()
            shared += len(common)
            assert all(a[j] == b[j] for j in common)
    assert shared > 2000  # many items in common, so the check has teeth
    assert runs[1]["max_exposure"] < runs[0]["max_exposure"]


def test_exposure_ceiling_holds_exactly_and_sympson_hetter_on_average():
    # max_exposure_rate is a hard ceiling: an item is given only while its rate
    # among the candidates before is under r, so no final rate exceeds
    # ceil(r (N - 1)) / N (= r when r N is a whole number). Sympson-Hetter
    # parameters, computed on other simulated candidates, hold r only on average.
    bank = make_bank(300, seed=5)
    n, r = 600, 0.25
    theta = np.random.default_rng(2).normal(size=n)
    capped = irt.simulate_cat(
        bank, irt.CatConfig(max_length=25, max_exposure_rate=r), theta, np.random.default_rng(3)
    )
    assert capped["max_exposure"] <= np.ceil(r * (n - 1)) / n + 1e-12
    plain = irt.simulate_cat(bank, irt.CatConfig(max_length=25), theta, np.random.default_rng(3))
    k = irt.sympson_hetter_parameters(
        bank, irt.CatConfig(max_length=25), np.random.default_rng(4), r_max=r
    )
    sh = irt.simulate_cat(
        bank,
        irt.CatConfig(max_length=25, exposure="sympson-hetter", sh_k=k),
        theta,
        np.random.default_rng(3),
    )
    assert plain["max_exposure"] > 0.6
    assert r - 0.02 < sh["max_exposure"] < r + 0.08
