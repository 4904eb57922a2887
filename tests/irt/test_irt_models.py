import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from cat_server import irt
from cat_server.irt.models import info_4pl, prob_4pl, prob_gpcm, prob_grm


def test_2pl_information_at_difficulty_is_a_squared_over_4():
    a = np.array([0.5, 1.0, 2.0])
    b = np.array([-1.0, 0.0, 1.5])
    for j in range(3):
        assert_allclose(info_4pl(b[j], a, b)[j], a[j] ** 2 / 4)


def test_D_scales_the_slope():
    assert_allclose(prob_4pl(0.7, 1.0, 0.2, D=1.702), prob_4pl(0.7, 1.702, 0.2))
    assert_allclose(info_4pl(0.0, 1.0, 0.0, D=1.702), 1.702**2 / 4, rtol=1e-3)


def test_3pl_probability_and_information_closed_forms():
    a, b, c = 1.3, 0.4, 0.2
    assert_allclose(prob_4pl(b, a, b, c), c + (1 - c) / 2)
    # Birnbaum: the 3PL information peaks at b + log((1 + sqrt(1 + 8c)) / 2) / a
    grid = np.linspace(-2, 3, 20001)
    peak = grid[np.argmax(info_4pl(grid, np.array([a]), np.array([b]), np.array([c]))[:, 0])]
    assert_allclose(peak, b + np.log((1 + np.sqrt(1 + 8 * c)) / 2) / a, atol=1e-3)


def test_information_equals_squared_derivative_over_variance_for_4pl():
    a, b, c, d = 1.4, -0.3, 0.15, 0.9
    t = np.linspace(-3, 3, 13)
    h = 1e-5
    dp = (prob_4pl(t + h, a, b, c, d) - prob_4pl(t - h, a, b, c, d)) / (2 * h)
    p = prob_4pl(t, a, b, c, d)
    assert_allclose(info_4pl(t, a, b, c, d), dp**2 / (p * (1 - p)), rtol=1e-6)


def test_gpcm_information_is_a2_times_score_variance_and_grm_matches_numeric():
    a = np.array([1.2, 0.8])
    thr = np.array([[-1.0, 0.2, 1.1], [-0.5, 0.5, np.nan]])
    t = np.linspace(-3, 3, 7)
    gp = irt.make_items(a, thresholds=thr, model="gpcm")
    p = prob_gpcm(t, a, thr)
    k = np.arange(4)
    var = (p * k**2).sum(-1) - ((p * k).sum(-1)) ** 2
    assert_allclose(gp.info(t), a**2 * var, rtol=1e-10)
    gr = irt.make_items(a, thresholds=thr, model="grm")
    h = 1e-5
    dp = (prob_grm(t + h, a, thr) - prob_grm(t - h, a, thr)) / (2 * h)
    pg = np.maximum(prob_grm(t, a, thr), 1e-300)
    assert_allclose(gr.info(t), (dp**2 / pg).sum(-1), rtol=1e-5)
    # padded category has probability 0
    assert np.all(pg[:, 1, 3] <= 1e-300)


def test_one_category_threshold_gpcm_equals_2pl():
    a, b = np.array([1.3]), np.array([0.4])
    t = np.linspace(-2, 2, 5)
    it = irt.make_items(a, thresholds=b[:, None], model="gpcm")
    assert_allclose(it.probs(t)[:, 0, 1], prob_4pl(t, a, b)[:, 0])
    assert_allclose(it.info(t)[:, 0], info_4pl(t, a, b)[:, 0])


def test_mixed_bank_probabilities_sum_to_one():
    it = irt.make_items(
        [1.0, 1.5, 0.9],
        [0.0, 0.5, 0.0],
        [0.2, 0.0, 0.0],
        model=["3pl", "grm", "gpcm"],
        thresholds=[[np.nan, np.nan], [-1, 1], [0.0, 0.3]],
    )
    p = it.probs(np.linspace(-4, 4, 9))
    assert_allclose(p.sum(-1), 1.0)
    assert list(it.n_cat) == [2, 3, 3]


def test_log_likelihood_and_test_information():
    it = irt.make_items([1.0, 2.0], [0.0, 1.0])
    ll = irt.log_likelihood(0.0, it, [1, -1])
    assert_allclose(ll, np.log(0.5))
    assert_allclose(irt.test_information(1.0, it), info_4pl(1.0, [1.0, 2.0], [0.0, 1.0]).sum())


def test_make_items_rejects_bad_parameters():
    with pytest.raises(ValueError):
        irt.make_items([0.0], [0.0])
    with pytest.raises(ValueError):
        irt.make_items([1.0], [0.0], [0.5], [0.4])
    with pytest.raises(ValueError):
        irt.make_items([1.0], [0.0], model="grm")
    with pytest.raises(ValueError):
        irt.make_items([1.0], [0.0], model="xyz")


params = st.tuples(
    st.floats(0.05, 4.0),
    st.floats(-5, 5),
    st.floats(0, 0.4),
    st.floats(0.6, 1.0),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(params, min_size=1, max_size=8), st.lists(st.floats(-50, 50), min_size=1, max_size=5)
)
def test_probabilities_in_unit_interval_and_information_nonnegative(items, thetas):
    a, b, c, d = (np.array(v) for v in zip(*items, strict=True))
    it = irt.make_items(a, b, c, d)
    t = np.array(thetas)
    p = it.probs(t)
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.isfinite(p))
    info = it.info(t)
    assert np.all(info >= 0) and np.all(np.isfinite(info))


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.1, 3.0),
    st.lists(st.floats(-4, 4), min_size=1, max_size=5, unique=True),
    st.sampled_from(["grm", "gpcm"]),
    st.floats(-30, 30),
)
def test_polytomous_probabilities_valid(a, thr, model, theta):
    thr = np.sort(np.array(thr))
    if model == "grm" and np.any(np.diff(thr) < 1e-6):
        return
    it = irt.make_items([a], thresholds=thr[None, :], model=model)
    p = it.probs(theta)
    assert np.all((p >= 0) & (p <= 1))
    assert_allclose(p.sum(-1), 1.0)
    assert np.all(it.info(theta) >= 0)


def test_simulated_responses_follow_probabilities(rng):
    it = irt.make_items([1.0], [0.5])
    x = irt.simulate_responses(np.zeros(20000), it, rng)
    assert abs(x.mean() - prob_4pl(0.0, 1.0, 0.5)) < 0.015
