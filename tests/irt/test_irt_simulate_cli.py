"""`cat-server simulate --thetas FILE`, paired runs and --details."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from cat_server.engine_cli import simulate_command


@pytest.fixture
def bank_csv(tmp_path):
    g = np.random.default_rng(5)
    path = tmp_path / "bank.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "section", "model", "a", "b", "c", "d"])
        for j in range(150):
            a, b = round(g.lognormal(0, 0.3), 3), round(g.normal(), 3)
            w.writerow([f"Q{j}", ["TWK", "TIU"][j % 2], "3pl", a, b, 0.15, 1])
    return path


def run(bank_csv, tmp_path, *extra, name="r"):
    out, details = tmp_path / f"{name}.json", tmp_path / f"{name}.csv"
    args = ["--bank", str(bank_csv), "--length", "12", "--out", str(out)]
    res = CliRunner().invoke(simulate_command, args + ["--details", str(details), *extra])
    return res, out, details


def read_details(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_simulate_uses_the_thetas_of_the_file(tmp_path, bank_csv):
    thetas = tmp_path / "thetas.csv"
    thetas.write_text("person_id,theta\nP1,-2.5\nP2,0\n\nP3,1.25\nP4,3\n")
    res, out, details = run(bank_csv, tmp_path, "--thetas", str(thetas), "--seed", "4")
    assert res.exit_code == 0, res.output
    rows = read_details(details)
    assert [float(r["theta"]) for r in rows] == [-2.5, 0.0, 1.25, 3.0]
    assert all(int(r["length"]) == 12 for r in rows)
    rep = json.loads(out.read_text())
    assert rep["n"] == 4 and rep["config"]["thetas"] == str(thetas)
    # a plain list, one a line, with no header works too
    plain = tmp_path / "plain.txt"
    plain.write_text("-2.5\n0\n1.25\n3\n")
    res, out2, details2 = run(bank_csv, tmp_path, "--thetas", str(plain), "--seed", "4", name="p")
    assert res.exit_code == 0, res.output
    assert read_details(details2) == rows  # same thetas, same seed: same candidates


@pytest.mark.parametrize(
    "text, message",
    [
        ("theta\n0.5\n1.0\nabc\n", "line 4: 'abc' is not a number"),
        ("0.5\n\n-1\ninf\n", "line 4: 'inf' is not a finite number"),
        ("", "the file is empty"),
        ("0.5,1.0\n", "line 1: 2 values on one line"),
        ("id,score\nP1,0.5\n", "line 1: the header 'id,score' has no 'theta' column"),
        ("person_id,theta\nP1,0.5\nP2\n", "line 3: no value in column 2"),
        ("theta\n", "no thetas after the header"),
    ],
)
def test_simulate_refuses_a_bad_thetas_file_naming_the_line(tmp_path, bank_csv, text, message):
    thetas = tmp_path / "thetas.csv"
    thetas.write_text(text)
    res, out, details = run(bank_csv, tmp_path, "--thetas", str(thetas))
    assert res.exit_code == 2
    assert f"Error: {thetas}: {message}" in res.output
    assert not out.exists() and not details.exists()


def test_simulate_refuses_examinees_that_disagree_with_the_thetas_file(tmp_path, bank_csv):
    thetas = tmp_path / "thetas.txt"
    thetas.write_text("0\n1\n2\n")
    res, out, _ = run(bank_csv, tmp_path, "--thetas", str(thetas), "--examinees", "5")
    assert res.exit_code == 2
    assert "--examinees 5 but" in res.output and "holds 3 thetas" in res.output
    assert not out.exists()


def test_same_seed_pairs_runs_with_and_without_exposure_control(tmp_path, bank_csv):
    common = ["--examinees", "200", "--seed", "9"]
    runs = {}
    for exposure in ("none", "randomesque:5", "sympson-hetter:0.25"):
        res, out, details = run(bank_csv, tmp_path, *common, "--exposure", exposure, name=exposure)
        assert res.exit_code == 0, res.output
        runs[exposure] = (json.loads(out.read_text()), read_details(details))
    thetas = {k: [r["theta"] for r in v[1]] for k, v in runs.items()}
    assert thetas["none"] == thetas["randomesque:5"] == thetas["sympson-hetter:0.25"]
    # and exposure control did change the tests (lower maximum exposure)
    assert runs["sympson-hetter:0.25"][0]["max_exposure"] < runs["none"][0]["max_exposure"]
