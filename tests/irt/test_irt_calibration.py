import tracemalloc

import numpy as np
import pytest
from irt_testlib import sparse_pretest
from numpy.testing import assert_allclose

from cat_server import irt
from cat_server.irt import io
from cat_server.irt.calibration import item_fit


def rmse(x, y):
    return float(np.sqrt(np.nanmean((np.asarray(x) - np.asarray(y)) ** 2)))


def test_2pl_recovery_5000_by_50():
    rng = np.random.default_rng(2024)
    a = rng.lognormal(0, 0.25, 50)
    b = rng.normal(0, 1, 50)
    x = irt.simulate_responses(rng.normal(size=5000), irt.make_items(a, b), rng)
    res = irt.calibrate(x, "2pl")
    assert res.converged
    assert rmse(res.items.a, a) < 0.1
    assert rmse(res.items.b, b) < 0.1
    # standard errors describe the actual estimation error
    z_a = (res.items.a - a) / res.se["a"]
    z_b = (res.items.b - b) / res.se["b"]
    assert 0.6 < np.std(z_a) < 1.5 and 0.6 < np.std(z_b) < 1.5
    # log-likelihood never decreases along EM
    assert np.all(np.diff(res.history) > -1e-6)
    assert np.all(np.abs(res.fit["infit"] - 1) < 0.15)


def test_1pl_recovers_common_slope_and_difficulty_with_missing_cells(rng):
    b = rng.normal(0, 1, 15)
    x = irt.simulate_responses(rng.normal(size=2000), irt.make_items(np.full(15, 1.4), b), rng, 0.3)
    res = irt.calibrate(x, "1pl")
    assert_allclose(res.items.a, res.items.a[0])
    assert abs(res.items.a[0] - 1.4) < 0.1
    assert rmse(res.items.b, b) < 0.12
    assert np.all(np.isfinite(res.se["b"])) and res.se["a"][0] > 0


def test_3pl_with_prior_on_c(rng):
    n = 15
    a = rng.lognormal(0.1, 0.2, n)
    b = rng.normal(0.3, 0.8, n)
    c = rng.uniform(0.1, 0.25, n)
    x = irt.simulate_responses(rng.normal(size=6000), irt.make_items(a, b, c), rng)
    res = irt.calibrate(x, "3pl")
    assert rmse(res.items.c, c) < 0.07
    assert rmse(res.items.b, b) < 0.25
    assert rmse(res.items.a, a) < 0.25
    assert np.all((res.items.c > 0) & (res.items.c < 0.5))
    assert np.all(np.isfinite(res.se["c"]))


@pytest.mark.parametrize("model", ["grm", "gpcm"])
def test_polytomous_recovery(model, rng):
    n = 12
    a = rng.lognormal(0, 0.2, n)
    thr = np.sort(rng.normal(0, 1, (n, 3)), axis=1) + np.array([-0.3, 0, 0.3])
    thr[:3, 2] = np.nan  # three items with only three categories
    x = irt.simulate_responses(
        rng.normal(size=3000), irt.make_items(a, thresholds=thr, model=model), rng
    )
    res = irt.calibrate(x, model)
    assert rmse(res.items.a, a) < 0.1
    assert rmse(res.items.thresholds, thr) < 0.15
    assert np.all(np.isnan(res.items.thresholds[:3, 2]))
    assert np.all(np.isnan(res.se["b"][:3, 2])) and np.all(np.isfinite(res.se["b"][3:]))


def test_fixed_anchor_calibration_puts_pretest_items_on_the_operational_scale(rng):
    n = 30
    a = rng.lognormal(0, 0.25, n)
    b = rng.normal(0, 1, n)
    items = irt.make_items(a, b)
    # a stronger population than the calibration population of the anchors
    x = irt.simulate_responses(rng.normal(0.6, 1.2, 4000), items, rng)
    anchors = {j: (items, j) for j in range(20)}
    res = irt.calibrate(x, "2pl", anchors=anchors)
    assert_allclose(res.items.a[:20], a[:20], rtol=1e-9)
    assert_allclose(res.items.b[:20], b[:20], atol=1e-9)
    assert abs(res.latent_mean - 0.6) < 0.1 and abs(res.latent_sd - 1.2) < 0.1
    assert rmse(res.items.b[20:], b[20:]) < 0.15
    assert np.all(np.isnan(res.se["a"][:20]))
    # without anchors, the free scale would shift the difficulties by about 0.6
    free = irt.calibrate(x, "2pl")
    assert rmse(free.items.b[20:], b[20:]) > 0.3


def test_rejects_bad_matrices():
    with pytest.raises(ValueError, match="variance"):
        irt.calibrate(np.array([[1, 0], [1, 1], [1, 0]]), "2pl")
    with pytest.raises(ValueError, match="0/1"):
        irt.calibrate(np.array([[2, 0], [1, 1]]), "2pl")
    with pytest.raises(ValueError, match="model"):
        irt.calibrate(np.array([[1, 0], [0, 1]]), "5pl")


def test_item_fit_flags_a_misfitting_item(rng):
    items = irt.make_items(np.ones(10), np.linspace(-1, 1, 10))
    th = rng.normal(size=3000)
    x = irt.simulate_responses(th, items, rng)
    x[:, 0] = rng.integers(0, 2, 3000)  # pure noise item
    fit = item_fit(x, items, th)
    assert fit["outfit"][0] > 1.3 and np.all(np.abs(fit["outfit"][1:] - 1) < 0.15)


def data_2pl(n_persons, n_items, seed):
    g = np.random.default_rng(seed)
    a = g.uniform(0.7, 2.0, n_items)
    b = g.normal(0, 1, n_items)
    return a, b, irt.simulate_responses(g.normal(size=n_persons), irt.make_items(a, b), g)


def test_squarem_reaches_the_em_fixed_point_in_fewer_steps():
    a, b, x = data_2pl(4000, 30, seed=5)
    plain = irt.calibrate(x, "2pl", accelerate=False, compute_se=False)
    fast = irt.calibrate(x, "2pl", compute_se=False)
    assert fast.converged and plain.converged
    assert fast.n_iter < plain.n_iter / 2, (fast.n_iter, plain.n_iter)
    # same maximum: plain EM stops a little short of it, SQUAREM no further away
    assert fast.log_likelihood >= plain.log_likelihood - 1e-3
    assert_allclose(fast.items.a, plain.items.a, atol=5e-3)
    assert_allclose(fast.items.b, plain.items.b, atol=5e-3)
    assert np.all(np.diff(fast.history) > -1e-6)


@pytest.mark.parametrize("model", ["3pl", "grm"])
def test_squarem_agrees_with_plain_em_on_other_models(model, rng):
    n = 10
    if model == "3pl":
        items = irt.make_items(rng.lognormal(0, 0.2, n), rng.normal(0, 1, n), np.full(n, 0.15))
    else:
        thr = np.sort(rng.normal(0, 1, (n, 3)), axis=1)
        items = irt.make_items(rng.lognormal(0, 0.2, n), thresholds=thr, model="grm")
    x = irt.simulate_responses(rng.normal(size=3000), items, rng)
    plain = irt.calibrate(x, model, accelerate=False, compute_se=False)
    fast = irt.calibrate(x, model, compute_se=False)
    assert fast.log_likelihood >= plain.log_likelihood - 1e-3
    assert_allclose(fast.items.a, plain.items.a, atol=0.02)


def test_calibration_memory_grows_with_the_chunk_not_with_the_persons():
    # the matrix is kept as int8 and read a chunk of rows at a time
    peaks = []
    for n in (10_000, 40_000):  # both above one chunk of rows
        _, _, x = data_2pl(n, 60, seed=1)
        tracemalloc.start()
        try:
            irt.calibrate(x, "2pl", max_iter=3)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    # before: about 8 bytes x persons x items several times over (163 MB at 20,000 x 100)
    assert peaks[1] < 1.5 * peaks[0], peaks
    assert peaks[1] < 50 * 2**20, peaks


@pytest.mark.parametrize("model", ["grm", "gpcm"])
@pytest.mark.parametrize("empty", [0, 1, 3])
def test_polytomous_item_with_an_empty_category_is_refused_by_name(model, empty, rng):
    # nobody chose `empty`: its threshold runs off (before: returned at -20 or +20, or GPCM
    # not converged after 500 steps)
    thr = np.sort(rng.normal(0, 1, (6, 3)), axis=1)
    items = irt.make_items(rng.lognormal(0, 0.2, 6), thresholds=thr, model=model)
    x = irt.simulate_responses(rng.normal(size=800), items, rng)
    col = x[:, 2]
    col[col == empty] = 2 if empty != 2 else 1
    n_cat = np.full(6, 4)
    names = [f"TKP{j:03d}" for j in range(6)]
    with pytest.raises(ValueError, match=f"Item 'TKP002': nobody scored {empty} "):
        irt.calibrate(x, model, n_cat=n_cat, item_id=names)
    with pytest.raises(ValueError, match=f"Item column 2: nobody scored {empty} "):
        irt.calibrate(x, model, n_cat=n_cat)


def test_4pl_recovery_with_priors_on_both_asymptotes():
    # 4PL: P = c + (d - c) / (1 + exp(-a (theta - b))); Beta(5, 17) on c and
    # Beta(20, 2) on d keep the asymptotes off 0 and 1. At 10,000 persons the
    # SEs of c and d are about 0.03, so RMSEs of 0.05 (c) and 0.07 (d) are
    # about two SEs; the slope and location trade off against the asymptotes,
    # hence 0.25 for a and b (2PL at 5,000 persons: 0.1).
    g = np.random.default_rng(5)
    a, b = g.uniform(0.8, 2.0, 20), g.uniform(-1.5, 1.5, 20)
    c, d = g.uniform(0.05, 0.25, 20), g.uniform(0.8, 0.98, 20)
    x = irt.simulate_responses(g.normal(size=10_000), irt.make_items(a, b, c, d), g)
    res = irt.calibrate(x, "4pl")
    assert res.converged and res.model == "4pl"
    assert rmse(res.items.a, a) < 0.25 and rmse(res.items.b, b) < 0.25
    assert rmse(res.items.c, c) < 0.05 and rmse(res.items.d, d) < 0.07
    assert np.all(res.items.d > res.items.c + 0.4)
    # the SEs of d describe its error (RMS z near 1)
    z = (res.items.d - d) / res.se["d"]
    assert 0.6 < np.sqrt(np.mean(z**2)) < 1.6
    assert res.n_parameters == 4 * 20
    assert np.all(res.fit["s_x2_df"] > 0)
    # written by the CLI's writer with se_d
    text = io.format_params([f"I{j}" for j in range(20)], res)
    header, first = text.splitlines()[:2]
    assert header.startswith("item_id,model,a,b,c,d,se_a,se_b,se_c,se_d,infit")
    assert first.split(",")[1] == "4pl" and float(first.split(",")[5]) < 1.0


def test_prior_on_a_keeps_pretest_items_with_30_answers_from_running_away():
    items, x = sparse_pretest(seed=2)
    anchors = {j: (items, j) for j in range(30)}
    pre = slice(30, None)
    free = irt.calibrate(x, "2pl", anchors=anchors, a_prior=False)
    held = irt.calibrate(x, "2pl", anchors=anchors, a_prior=(0.0, 0.5))
    assert free.converged and held.converged
    # no prior: discriminations run away (to 5.0 here, up to the bound 8 with other seeds)
    assert free.items.a[pre].max() > 4.5
    assert rmse(free.items.a[pre], items.a[pre]) > 1.0
    # log a ~ N(0, 0.5), BILOG-MG's and mirt's slope prior: bounded and closer to the truth
    assert held.items.a[pre].max() < 2.5
    assert rmse(held.items.a[pre], items.a[pre]) < 0.4
    assert rmse(held.items.b[pre], items.b[pre]) < 0.6 < rmse(free.items.b[pre], items.b[pre])
    # the default for the 2PL is no prior; False turns off the 3PL's default one
    assert_allclose(irt.calibrate(x, "2pl", anchors=anchors).items.a, free.items.a)
    with pytest.raises(ValueError, match="a_prior"):
        irt.calibrate(x, "2pl", a_prior=(0.0, 0.0))
