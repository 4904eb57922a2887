"""Agreement with established implementations (girth, catsim); skipped when not installed."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from cat_server import irt

girth = pytest.importorskip("girth")
catsim = pytest.importorskip("catsim")

from catsim import irt as catsim_irt  # noqa: E402
from catsim.estimation import NumericalSearchEstimator  # noqa: E402
from catsim.item_bank import ItemBank  # noqa: E402
from catsim.selection import MaxInfoSelector  # noqa: E402


def rmse(x, y):
    return float(np.sqrt(np.mean((x - y) ** 2)))


def test_2pl_calibration_agrees_with_girth_twopl_mml():
    rng = np.random.default_rng(11)
    a = rng.lognormal(0, 0.25, 20)
    b = rng.normal(0, 1, 20)
    x = irt.simulate_responses(rng.normal(size=3000), irt.make_items(a, b), rng)
    ours = irt.calibrate(x, "2pl")
    peer = girth.twopl_mml(x.T.astype(int))
    # same estimator (MML with a N(0,1) latent): the two solutions agree closely
    assert_allclose(ours.items.a, peer["Discrimination"], atol=0.05)
    assert_allclose(ours.items.b, peer["Difficulty"], atol=0.05)
    assert rmse(ours.items.a, a) <= rmse(peer["Discrimination"], a) + 0.01
    assert rmse(ours.items.b, b) <= rmse(peer["Difficulty"], b) + 0.01


def test_probability_and_information_agree_with_catsim():
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b, c, d, t = (
            rng.lognormal(0, 0.3),
            rng.normal(),
            rng.uniform(0, 0.3),
            rng.uniform(0.85, 1),
            rng.normal(),
        )
        assert_allclose(irt.prob_4pl(t, a, b, c, d), catsim_irt.icc(t, a, b, c, d), rtol=1e-10)
        assert_allclose(irt.info_4pl(t, a, b, c, d), catsim_irt.inf(t, a, b, c, d), rtol=1e-8)


def test_max_information_selection_agrees_with_catsim():
    rng = np.random.default_rng(2)
    n = 500
    a, b, c = rng.lognormal(0, 0.3, n), rng.normal(0, 1, n), rng.uniform(0, 0.25, n)
    bank = irt.prepare_bank(a, b, c)
    ib = ItemBank(np.column_stack([a, b, c, np.ones(n)]))
    sel = MaxInfoSelector()
    exact = bank.items
    for k in range(30):
        given = rng.choice(n, size=k, replace=False).tolist()
        theta = float(rng.normal())
        theirs = sel.select(item_bank=ib, administered_items=given, est_theta=theta)
        mask = np.ones(n, bool)
        mask[given] = False
        ours = irt.selection.pick(bank.info_at(theta), mask, "none", None)
        info = exact.info(theta)[0]
        assert ours == theirs or info[ours] >= info[theirs] * (1 - 1e-3)


def test_mle_agrees_with_catsim_numerical_search():
    rng = np.random.default_rng(3)
    n = 25
    a, b, c = rng.lognormal(0, 0.3, n), rng.normal(0, 1, n), np.zeros(n)
    items = irt.make_items(a, b, c)
    ib = ItemBank(np.column_stack([a, b, c, np.ones(n)]))
    est = NumericalSearchEstimator()
    for _ in range(20):
        theta = rng.normal()
        x = irt.simulate_responses(np.array([theta]), items, rng)[0]
        if x.sum() in (0, n):
            continue
        ours, _ = irt.mle(x, items)
        theirs = est.estimate(
            item_bank=ib,
            administered_items=list(range(n)),
            response_vector=[bool(v) for v in x],
            est_theta=0.0,
        )
        assert abs(ours - theirs) < 2e-3
