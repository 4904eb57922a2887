"""Model fit (log-likelihood, AIC, BIC) and Orlando–Thissen S-X2 item fit."""

import itertools
import math

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from cat_server import irt
from cat_server.engine_cli import calibrate_command
from cat_server.irt.fit import right_given_rest, s_x2
from cat_server.irt.scoring import score_distribution


def planted_misfit(seed=1, n=3000, n_items=20, bad=5):
    """2PL data with one item whose curve is not logistic (it peaks at theta = 0)."""
    g = np.random.default_rng(seed)
    items = irt.make_items(g.uniform(0.8, 2.0, n_items), g.normal(size=n_items))
    theta = g.normal(size=n)
    x = irt.simulate_responses(theta, items, g)
    x[:, bad] = g.random(n) < 0.25 + 0.5 * np.exp(-(theta**2))
    return x, items


@pytest.mark.parametrize("model, per_item, extra", [("1pl", 1, 1), ("2pl", 2, 0), ("3pl", 3, 0)])
def test_aic_and_bic_count_the_free_parameters(model, per_item, extra):
    x, _ = planted_misfit(seed=2, n=800, n_items=6)
    res = irt.calibrate(x, model, compute_se=False)
    k = 6 * per_item + extra  # the 1PL's common slope counts once
    assert res.n_parameters == k and res.n_persons == 800
    assert res.aic == pytest.approx(-2 * res.log_likelihood + 2 * k)
    assert res.bic == pytest.approx(-2 * res.log_likelihood + k * math.log(800))


def test_aic_counts_polytomous_categories_and_the_latent_moments_with_anchors():
    g = np.random.default_rng(3)
    thr = np.sort(g.normal(size=(5, 3)), axis=1)
    thr[0, 2] = np.nan  # one item scored 0..2
    items = irt.make_items(g.uniform(0.8, 1.8, 5), model="grm", thresholds=thr)
    x = irt.simulate_responses(g.normal(0.3, 1.1, 1000), items, g)
    res = irt.calibrate(x, "grm", compute_se=False)
    assert res.n_parameters == 4 * 4 + 3  # a and three thresholds; a and two
    anchored = irt.calibrate(x, "grm", anchors={0: (items, 0), 1: (items, 1)}, compute_se=False)
    assert anchored.n_parameters == 3 * 4 + 2  # the latent mean and SD are free now
    assert np.isfinite(anchored.fit["s_x2"]).all()  # polytomous items get their S-X2 too


def test_s_x2_flags_the_planted_misfitting_item_and_only_it():
    x, _ = planted_misfit()
    res = irt.calibrate(x, "2pl")
    p = res.fit["s_x2_p"]
    assert np.argmin(p) == 5 and p[5] < 1e-6
    assert (np.delete(p, 5) > 0.01).all()
    df = res.fit["s_x2_df"]
    # score groups 1..19 less a few merged in the tails, less the 2 parameters
    assert ((df >= 10) & (df <= 17)).all()


def test_s_x2_follows_its_chi_square_under_the_true_model():
    g = np.random.default_rng(4)
    items = irt.make_items(g.uniform(0.8, 2.0, 25), g.normal(size=25))
    x = irt.simulate_responses(g.normal(size=4000), items, g)
    fit = s_x2(x, items, n_parameters=0)  # true parameters: nothing estimated
    ratio = fit["s_x2"] / fit["s_x2_df"]
    assert 0.8 < ratio.mean() < 1.2
    assert 0.3 < np.mean(fit["s_x2_p"]) < 0.7 and (fit["s_x2_p"] > 0.001).all()


def test_s_x2_uses_only_complete_rows():
    x, items = planted_misfit(n=1000, n_items=8)
    x[:10, 0] = -1
    fit = s_x2(x, items)
    assert_allclose(fit["s_x2"], s_x2(x[10:], items)["s_x2"])
    assert np.isnan(
        s_x2(np.where(np.eye(8, dtype=bool)[np.arange(1000) % 8], -1, x), items)["s_x2"]
    ).all()


def brute_force_score_distribution(probs):
    """P(S = s | theta) by enumerating every response pattern."""
    n_theta, n_items, _ = probs.shape
    cats = [
        range(int((probs[:, j] > 0).any(axis=0).nonzero()[0].max()) + 1) for j in range(n_items)
    ]
    out = np.zeros((n_theta, sum(len(c) - 1 for c in cats) + 1))
    for pattern in itertools.product(*cats):
        p = np.ones(n_theta)
        for j, k in enumerate(pattern):
            p = p * probs[:, j, k]
        out[:, sum(pattern)] += p
    return out


def mixed_form():
    thr = np.array(
        [[np.nan] * 3, [np.nan] * 3, [-1.0, 0.2, 1.1], [-0.5, 0.7, np.nan], [np.nan] * 3]
    )
    return irt.make_items(
        [1.2, 0.8, 1.0, 1.4, 2.0],
        [0.3, -1.0, 0, 0, 0.5],
        [0.2, 0.0, 0, 0, 0.1],
        [1.0, 0.9, 1, 1, 1.0],
        model=["3pl", "4pl", "grm", "gpcm", "3pl"],
        thresholds=thr,
    )


def test_lord_wingersky_matches_enumeration_of_every_pattern():
    items = mixed_form()
    probs = items.probs(np.linspace(-6, 6, 13))
    assert_allclose(
        score_distribution(probs, items.n_cat), brute_force_score_distribution(probs), atol=1e-14
    )


def test_right_given_rest_matches_the_distribution_without_the_item():
    items = mixed_form()
    grid = np.linspace(-6, 6, 25)
    w = np.exp(-0.5 * grid**2)
    w /= w.sum()
    probs = items.probs(grid)
    full = score_distribution(probs, items.n_cat)
    dich = np.array([0, 1, 4])
    got = right_given_rest(probs[:, dich, :2], full, w)
    for r, j in enumerate(dich):
        others = np.delete(np.arange(5), j)
        rest = score_distribution(probs[:, others], items.n_cat[others])
        want = (w * probs[:, j, 1]) @ rest
        assert_allclose(got[r, : want.size], want, atol=1e-14)


def test_calibrate_cli_prints_model_fit_and_writes_s_x2(tmp_path):
    x, _ = planted_misfit(n=2000, n_items=12, bad=3)
    path, out = tmp_path / "r.csv", tmp_path / "params.csv"
    ids = [f"I{j}" for j in range(12)]
    path.write_text(",".join(ids) + "\n" + "\n".join(",".join(map(str, r)) for r in x) + "\n")
    res = CliRunner().invoke(calibrate_command, [str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    ll = float(res.output.split("log-likelihood: ")[1].split()[0])
    aic = float(res.output.split("AIC: ")[1].split()[0])
    bic = float(res.output.split("BIC: ")[1].split()[0])
    assert aic == pytest.approx(-2 * ll + 48, abs=0.01)
    assert bic == pytest.approx(-2 * ll + 24 * math.log(2000), abs=0.01)
    assert "(24 parameters, 2000 persons)" in res.output
    assert "S-X2 item fit: 1 of 12 items with p < 0.01: I3 (p=" in res.output
    header, *rows = out.read_text().splitlines()
    assert header.endswith(",infit,outfit,s_x2,s_x2_df,s_x2_p")
    p = {r.split(",")[0]: float(r.split(",")[-1]) for r in rows}
    assert min(p, key=p.get) == "I3"


def test_calibrate_cli_takes_the_4pl(tmp_path):
    g = np.random.default_rng(6)
    items = irt.make_items(g.uniform(0.8, 2, 8), g.normal(size=8), 0.15, 0.9)
    x = irt.simulate_responses(g.normal(size=1500), items, g)
    path, out = tmp_path / "r.csv", tmp_path / "params.csv"
    path.write_text(",".join(f"I{j}" for j in range(8)) + "\n")
    with open(path, "a") as fh:
        fh.writelines(",".join(map(str, r)) + "\n" for r in x)
    res = CliRunner().invoke(calibrate_command, [str(path), "--model", "4pl", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "(32 parameters, 1500 persons)" in res.output
    header, *rows = out.read_text().splitlines()
    assert ",se_c,se_d,infit," in header and all(r.split(",")[1] == "4pl" for r in rows)


@pytest.mark.parametrize("model", ["grm", "gpcm"])
def test_polytomous_s_x2_follows_its_chi_square_and_flags_a_planted_misfit(model):
    """Kang & Chen's S-X2 (TKP items scored 1-5 are polytomous): no longer NaN."""
    g = np.random.default_rng(6)
    thr = np.sort(g.normal(size=(15, 3)), axis=1)
    items = irt.make_items(g.uniform(0.8, 1.8, 15), model=model, thresholds=thr)
    theta = g.normal(size=4000)
    x = irt.simulate_responses(theta, items, g)
    fit = s_x2(x, items, n_parameters=0, min_expected=5)
    ratio = fit["s_x2"] / fit["s_x2_df"]
    assert 0.85 < ratio.mean() < 1.15 and (fit["s_x2_df"] >= 5).all()
    # a little liberal with sparse categories: at most one fitting item of 15 below 0.001
    assert 0.3 < np.nanmean(fit["s_x2_p"]) < 0.7 and (fit["s_x2_p"] < 0.001).sum() <= 1
    x[:, 4] = g.integers(0, 4, size=4000)  # answered at random, whatever the ability
    flagged = s_x2(x, items, n_parameters=0, min_expected=5)["s_x2_p"]
    assert np.nanargmin(flagged) == 4 and flagged[4] < 1e-6
