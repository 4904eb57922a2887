"""Linking a new calibration onto the old scale through anchor items."""

import csv
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from cat_server import irt
from cat_server.engine_cli import link_command
from cat_server.irt.linking import METHODS, link_scales, transform

ROOT = pathlib.Path(__file__).resolve().parents[2]
A_TRUE, B_TRUE = 1.2, 0.5  # theta_old = 1.2 theta_new + 0.5


def two_forms(seed=0, n=3000):
    """Old form: anchors 0..19 and items 20..39, group N(0, 1); new form: the
    anchors and items 40..59, group N(0.5, 1.2^2) on the old scale. Each
    calibration puts its own group at N(0, 1), so theta_old = 1.2 theta_new + 0.5."""
    g = np.random.default_rng(seed)
    items = irt.make_items(g.uniform(0.8, 2.0, 60), g.normal(size=60))
    old_cols, new_cols = np.r_[0:40], np.r_[0:20, 40:60]
    x_old = irt.simulate_responses(g.normal(0, 1, n), items.subset(old_cols), g)
    x_new = irt.simulate_responses(g.normal(B_TRUE, A_TRUE, n), items.subset(new_cols), g)
    old = irt.calibrate(x_old, "2pl", compute_se=False).items
    new = irt.calibrate(x_new, "2pl", compute_se=False).items
    return items, old, new


@pytest.fixture(scope="module")
def forms():
    return two_forms()


@pytest.mark.parametrize("method", METHODS)
def test_linking_recovers_the_known_transformation(forms, method):
    # Over seeds 0-9 the Stocking-Lord estimates spread with SD 0.026 (A) and
    # 0.042 (B), mean/sigma 0.044 and 0.049: two groups of 3,000 and twenty
    # anchors estimated twice. 0.1 for A and 0.15 for B are about three SDs.
    truth, old, new = forms
    anchors = np.arange(20)
    link = link_scales(old.subset(anchors), new.subset(anchors), method)
    assert abs(link.A - A_TRUE) < 0.1 and abs(link.B - B_TRUE) < 0.15
    assert link.n_anchors == 20 and link.method == method
    # the new form's own items land on the old scale
    moved = link.apply(new).subset(np.arange(20, 40))
    assert np.sqrt(np.mean((moved.b - truth.b[40:60]) ** 2)) < 0.15
    assert np.sqrt(np.mean((moved.a - truth.a[40:60]) ** 2)) < 0.2
    # and the theta scale with them
    assert link.theta(0.0) == pytest.approx(link.B)


def test_unlinked_parameters_are_off_by_the_transformation(forms):
    # the check above has teeth: without linking the new items are far off
    truth, _, new = forms
    assert np.sqrt(np.mean((new.b[20:40] - truth.b[40:60]) ** 2)) > 0.4


def exact_pair():
    """3PL, 4PL, GRM and GPCM anchors, and the same anchors on a scale 0.8 x + (-0.3)."""
    thr = np.full((6, 3), np.nan)
    thr[4] = [-1.2, 0.1, 0.9]
    thr[5, :2] = [-0.4, 0.8]
    old = irt.make_items(
        [1.1, 0.7, 1.6, 1.3, 1.0, 1.4],
        [-0.8, 0.4, 1.2, -0.1, 0, 0],
        [0.2, 0.0, 0.15, 0.1, 0, 0],
        [1.0, 1.0, 1.0, 0.92, 1, 1],
        model=["3pl", "2pl", "3pl", "4pl", "grm", "gpcm"],
        thresholds=thr,
    )
    A, B = 0.8, -0.3  # old = A new + B, so new = (old - B) / A
    new = transform(old, 1 / A, -B / A)
    return old, new, A, B


@pytest.mark.parametrize("method", METHODS)
def test_linking_is_exact_on_parameters_without_error(method):
    old, new, A, B = exact_pair()
    link = link_scales(old, new, method)
    assert_allclose([link.A, link.B], [A, B], atol=1e-6)
    back = link.apply(new)
    assert_allclose(back.a, old.a, atol=1e-6)
    assert_allclose(back.thresholds, old.thresholds, atol=1e-6)
    assert_allclose(back.b[:4], old.b[:4], atol=1e-6)
    assert_allclose(back.c, old.c) and assert_allclose(back.d, old.d)


def test_linking_refuses_mismatched_anchors():
    old, new, _, _ = exact_pair()
    with pytest.raises(ValueError, match="same anchor items"):
        link_scales(old.subset(np.arange(3)), new.subset(np.arange(4)))
    with pytest.raises(ValueError, match="model or number of categories"):
        link_scales(old.subset(np.array([0, 4])), new.subset(np.array([0, 5])))
    with pytest.raises(ValueError, match="Unknown linking method"):
        link_scales(old, new, "equipercentile")


def write_params(path, ids, items, extra=None):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "section", "model", "a", "b", "c", "d", "se_a", "se_b", "stem"])
        for j, iid in enumerate(ids):
            w.writerow(
                [
                    iid,
                    "TIU",
                    "2pl",
                    f"{items.a[j]:.6f}",
                    f"{items.b[j]:.6f}",
                    0,
                    1,
                    0.1,
                    0.2,
                    f"Soal {iid}, baru",
                ]
            )


def test_link_cli_writes_the_new_file_on_the_old_scale(tmp_path, forms):
    truth, old, new = forms
    old_ids = [f"A{j}" for j in range(20)] + [f"X{j}" for j in range(20)]
    new_ids = [f"A{j}" for j in range(20)] + [f"Y{j}" for j in range(20)]
    old_csv, new_csv, out = tmp_path / "old.csv", tmp_path / "new.csv", tmp_path / "linked.csv"
    write_params(old_csv, old_ids, old)
    write_params(new_csv, new_ids, new)
    res = CliRunner().invoke(
        link_command, ["--old", str(old_csv), "--new", str(new_csv), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "stocking-lord on 20 anchors: theta_old = " in res.output
    want = link_scales(old.subset(np.arange(20)), new.subset(np.arange(20)))
    rows = list(csv.DictReader(out.open()))
    assert [r["item_id"] for r in rows] == new_ids
    assert rows[25]["stem"] == "Soal Y5, baru"  # other columns kept as they were
    assert_allclose([float(r["a"]) for r in rows], new.a / want.A, atol=1e-5)
    assert_allclose([float(r["b"]) for r in rows], want.A * new.b + want.B, atol=1e-5)
    assert_allclose([float(r["se_b"]) for r in rows], 0.2 * want.A, atol=1e-5)
    assert_allclose([float(r["se_a"]) for r in rows], 0.1 / want.A, atol=1e-5)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--anchors", "A0"], "need at least 2 anchors, found 1: A0"),
        (["--anchors", "A0,Z9"], "anchor 'Z9' is not in"),
        (["--method", "equipercentile"], "Invalid value for '--method'"),
    ],
)
def test_link_cli_refuses_bad_anchors(tmp_path, forms, args, message):
    _, old, new = forms
    ids = [f"A{j}" for j in range(40)]
    old_csv, new_csv, out = tmp_path / "old.csv", tmp_path / "new.csv", tmp_path / "linked.csv"
    write_params(old_csv, ids, old)
    write_params(new_csv, ids, new)
    res = CliRunner().invoke(
        link_command, ["--old", str(old_csv), "--new", str(new_csv), "--out", str(out), *args]
    )
    assert res.exit_code == 2 and message in res.output and not out.exists()


def test_linking_loads_scipy_optimize_only_when_used():
    code = (
        "import sys, cat_server.irt as irt; assert 'scipy.optimize' not in sys.modules; "
        "irt.link_scales; assert 'scipy.optimize' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
