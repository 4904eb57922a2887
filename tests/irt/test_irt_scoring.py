"""EAP[sum]: the sum-score-to-theta table of a fixed form (Lord–Wingersky)."""

import csv
import itertools

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from cat_server import irt
from cat_server.engine_cli import eapsum_command


def small_mixed_form():
    """2PL, 3PL, 4PL, a GRM item scored 0..3 and a GPCM item scored 0..2."""
    thr = np.full((5, 3), np.nan)
    thr[3] = [-1.0, 0.2, 1.1]
    thr[4, :2] = [-0.5, 0.7]
    return irt.make_items(
        [1.2, 0.8, 1.5, 1.0, 1.4],
        [0.3, -1.0, 0.5, 0, 0],
        [0.0, 0.2, 0.1, 0, 0],
        [1.0, 1.0, 0.9, 1, 1],
        model=["2pl", "3pl", "4pl", "grm", "gpcm"],
        thresholds=thr,
    )


def brute_force_eapsum(items, grid, weights):
    """EAP and posterior SD per sum score by enumerating every response pattern."""
    probs = items.probs(grid)
    cats = [range(int(k)) for k in items.n_cat]
    S = sum(int(k) - 1 for k in items.n_cat)
    like = np.zeros((S + 1, grid.size))
    for pattern in itertools.product(*cats):
        like[sum(pattern)] += np.prod([probs[:, j, k] for j, k in enumerate(pattern)], axis=0)
    post = like * weights
    theta = post @ grid / post.sum(axis=1)
    se = np.sqrt(((grid[None, :] - theta[:, None]) ** 2 * post).sum(axis=1) / post.sum(axis=1))
    return theta, se, post.sum(axis=1)


@pytest.mark.parametrize("prior", [(0.0, 1.0), (0.5, 1.3)])
def test_eapsum_matches_enumeration_of_every_pattern(prior):
    items = small_mixed_form()
    table = irt.eapsum_table(items, prior_mean=prior[0], prior_sd=prior[1])
    grid = np.linspace(-6, 6, 61)
    w = np.exp(-0.5 * ((grid - prior[0]) / prior[1]) ** 2)
    theta, se, p = brute_force_eapsum(items, grid, w / w.sum())
    assert table.score.tolist() == list(range(9))  # 1 + 1 + 1 + 3 + 2 points
    assert_allclose(table.theta, theta, atol=1e-12)
    assert_allclose(table.se, se, atol=1e-12)
    assert_allclose(table.probability, p, atol=1e-14)
    assert table.probability.sum() == pytest.approx(1.0)
    assert np.all(np.diff(table.theta) > 0)  # more points, higher theta


def test_eapsum_of_a_dichotomous_form_is_symmetric_and_fine_enough_at_61_nodes():
    # a 2PL form with difficulties symmetric about 0: theta(s) = -theta(S - s)
    b = np.array([-1.5, -0.6, 0.0, 0.6, 1.5, -1.0, 1.0])
    items = irt.make_items(np.full(7, 1.3), b)
    table = irt.eapsum_table(items)
    assert_allclose(table.theta, -table.theta[::-1], atol=1e-12)
    assert np.all(np.isfinite(table.theta)) and np.all(table.se > 0)
    fine = irt.eapsum_table(items, n_quad=401)
    assert np.abs(fine.theta - table.theta).max() < 1e-4
    three = irt.make_items(np.full(7, 1.3), b, 0.2)
    assert (
        np.abs(irt.eapsum_table(three, n_quad=401).theta - irt.eapsum_table(three).theta).max()
        < 1e-4
    )


def test_lookup_gives_the_row_of_each_sum_score():
    table = irt.eapsum_table(small_mixed_form())
    theta, se = table.lookup([0, 8, 3])
    assert_allclose(theta, table.theta[[0, 8, 3]])
    with pytest.raises(ValueError, match="0..8"):
        table.lookup([9])


def write_form(path):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "section", "model", "a", "b", "c", "d", "b1", "b2", "b3"])
        w.writerow(["T1", "TWK", "2pl", 1.2, 0.3, "", "", "", "", ""])
        w.writerow(["T2", "TWK", "3pl", 0.8, -1.0, 0.2, 1, "", "", ""])
        w.writerow(["T3", "TIU", "4pl", 1.5, 0.5, 0.1, 0.9, "", "", ""])
        w.writerow(["K1", "TKP", "grm", 1.0, "", "", "", -1.0, 0.2, 1.1])
        w.writerow(["K2", "TKP", "gpcm", 1.4, "", "", "", -0.5, 0.7, ""])


def test_eapsum_cli_writes_the_table(tmp_path):
    form, out = tmp_path / "form.csv", tmp_path / "table.csv"
    write_form(form)
    res = CliRunner().invoke(eapsum_command, ["--bank", str(form), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "5 items, sum scores 0..8" in res.output
    rows = list(csv.DictReader(out.open()))
    want = irt.eapsum_table(small_mixed_form())
    assert [int(r["score"]) for r in rows] == list(range(9))
    assert_allclose([float(r["theta"]) for r in rows], want.theta, atol=1e-6)
    assert_allclose([float(r["se"]) for r in rows], want.se, atol=1e-6)
    # one section: the TKP items only (scores 0..5)
    res = CliRunner().invoke(
        eapsum_command, ["--bank", str(form), "--section", "TKP", "--out", str(out)]
    )
    assert res.exit_code == 0 and "2 items, sum scores 0..5" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--section", "XYZ"], "no item in section XYZ (found: TIU, TKP, TWK)"),
        (["--prior-sd", "0"], "--prior-sd must be > 0"),
    ],
)
def test_eapsum_cli_refuses_bad_options(tmp_path, args, message):
    form, out = tmp_path / "form.csv", tmp_path / "table.csv"
    write_form(form)
    res = CliRunner().invoke(eapsum_command, ["--bank", str(form), "--out", str(out), *args])
    assert res.exit_code == 2 and message in res.output and not out.exists()


def test_eapsum_cli_names_the_bad_row(tmp_path):
    form, out = tmp_path / "form.csv", tmp_path / "table.csv"
    form.write_text("item_id,model,a,b\nQ1,2pl,1.0,0\nQ2,2pl,x,0\n")
    res = CliRunner().invoke(eapsum_command, ["--bank", str(form), "--out", str(out)])
    assert res.exit_code == 2 and "row 3, column 3 ('a'): 'x' is not a number" in res.output
    assert not out.exists()
