import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from cat_server import irt


def rasch(n=10):
    return irt.make_items(np.ones(n), np.zeros(n))


def test_rasch_mle_closed_form():
    it = rasch(10)
    for r in range(1, 10):
        x = np.array([1] * r + [0] * (10 - r))
        theta, se = irt.mle(x, it)
        assert_allclose(theta, np.log(r / (10 - r)), atol=1e-6)
        p = r / 10
        assert_allclose(se, 1 / np.sqrt(10 * p * (1 - p)), rtol=1e-4)


def test_rasch_wle_matches_warm_equation():
    # Rasch, equal difficulties: r - nP + (1 - 2P)/2 = 0  =>  P = (r + 1/2) / (n + 1)
    it = rasch(10)
    for r in (0, 3, 10):
        x = np.array([1] * r + [0] * (10 - r))
        theta, _ = irt.wle(x, it)
        p = (r + 0.5) / 11
        assert_allclose(theta, np.log(p / (1 - p)), atol=1e-5)


def test_eap_matches_brute_force_integration():
    it = irt.make_items([1.2, 0.7, 1.9], [-0.5, 0.3, 1.0], [0.1, 0.0, 0.2])
    x = np.array([1, 0, 1])
    t = np.linspace(-8, 8, 20001)
    post = np.exp(irt.log_likelihood(t, it, x) - 0.5 * t**2)
    mean = (t * post).sum() / post.sum()
    sd = np.sqrt((t**2 * post).sum() / post.sum() - mean**2)
    theta, se = irt.eap(x, it, n_quad=121, bound=6)
    assert_allclose([theta, se], [mean, sd], atol=2e-3)


def test_map_is_posterior_mode():
    it = irt.make_items([1.2, 0.7, 1.9, 1.0], [-0.5, 0.3, 1.0, 0.0])
    x = np.array([1, 0, 1, 1])
    t = np.linspace(-4, 4, 80001)
    mode = t[np.argmax(irt.log_likelihood(t, it, x) - 0.5 * t**2)]
    theta, se = irt.map_estimate(x, it)
    assert_allclose(theta, mode, atol=1e-4)
    assert_allclose(se, 1 / np.sqrt(irt.test_information(theta, it) + 1), rtol=1e-4)


@pytest.mark.parametrize("method", ["eap", "map", "mle", "wle"])
def test_extreme_and_empty_patterns_are_finite(method):
    it = irt.make_items(np.linspace(0.5, 2, 8), np.linspace(-1, 1, 8), np.full(8, 0.2))
    x = np.array([[1] * 8, [0] * 8, [-1] * 8, [1, 0] + [-1] * 6])
    theta, se = irt.estimate(x, it, method)
    assert np.all(np.isfinite(theta)) and np.all(np.isfinite(se))
    assert np.all(np.abs(theta) <= 6) and np.all(se > 0)
    assert theta[0] > theta[3] > theta[1]


def test_polytomous_estimation_orders_scores():
    it = irt.make_items(
        [1.0, 1.4, 0.8], thresholds=[[-1, 0, 1], [-0.5, 0.5, np.nan], [0, 1, 2]], model="gpcm"
    )
    x = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 2, 3]])
    for m in ("eap", "mle", "wle", "map"):
        theta, se = irt.estimate(x, it, m)
        assert np.all(np.diff(theta) > 0), m
        assert np.all(np.isfinite(se))


def test_estimation_recovers_ability_on_long_test(rng):
    n = 200
    it = irt.make_items(rng.lognormal(0, 0.2, n), rng.normal(0, 1, n))
    th = rng.normal(size=300)
    x = irt.simulate_responses(th, it, rng)
    for m in ("eap", "mle", "wle", "map"):
        est, se = irt.estimate(x, it, m)
        assert np.sqrt(np.mean((est - th) ** 2)) < 0.25, m
        assert abs(np.mean(se) - np.sqrt(np.mean((est - th) ** 2))) < 0.06


def test_rejects_out_of_range_scores():
    with pytest.raises(ValueError):
        irt.eap(np.array([2, 0]), irt.make_items([1, 1], [0, 0]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([-1, 0, 1]), min_size=6, max_size=6), st.floats(0.2, 3.0))
def test_eap_and_wle_finite_for_any_pattern(pattern, sd):
    it = irt.make_items(
        [0.3, 0.9, 1.5, 2.5, 4.0, 1.0], [-3, -1, 0, 1, 3, 0], [0, 0, 0.2, 0.3, 0, 0]
    )
    x = np.array(pattern)
    for theta, se in (
        irt.eap(x, it, prior_sd=sd),
        irt.wle(x, it),
        irt.mle(x, it),
        irt.map_estimate(x, it, prior_sd=sd),
    ):
        assert np.isfinite(theta) and np.isfinite(se) and se > 0


def warm_root_2pl(x, a, b):
    """Warm's WLE of a 2PL pattern by brentq on a wide bracket (closed-form derivatives)."""
    from scipy.optimize import brentq

    def f(t):
        p = 1 / (1 + np.exp(-a * (t - b)))
        info = (a * a * p * (1 - p)).sum()
        j = (a**3 * p * (1 - p) * (1 - 2 * p)).sum()
        return (a * (x - p)).sum() + j / (2 * info)

    return brentq(f, -30, 30, xtol=1e-10)


def test_wle_finds_warm_roots_beyond_the_search_bound():
    # 70 Rasch items at b = 0, all correct: P = 70.5 / 71, theta = log 141 = 4.949;
    # before, the search stopped at its bound and returned 4.0 silently
    it = rasch(70)
    theta, se = irt.wle(np.ones(70, dtype=int), it)
    assert_allclose(theta, np.log(141), atol=1e-5)
    assert_allclose(se, 1 / np.sqrt(irt.test_information(theta, it)), rtol=1e-4)
    theta, _ = irt.wle(np.zeros(70, dtype=int), it)
    assert_allclose(theta, -np.log(141), atol=1e-5)
    g = np.random.default_rng(3)
    a, b = g.uniform(0.8, 2.5, 40), g.normal(1.5, 0.5, 40)
    x = np.ones((3, 40), dtype=int)
    x[1, :2] = 0
    x[2] = 0
    theta, _ = irt.wle(x, irt.make_items(a, b))
    ref = [warm_root_2pl(row, a, b) for row in x]
    assert ref[0] > 4
    assert_allclose(theta, ref, atol=1e-5)
    # the MLE of an all-correct pattern does not exist: it stays at the bound
    assert irt.mle(np.ones(70, dtype=int), it)[0] == 4.0
