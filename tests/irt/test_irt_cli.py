import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from irt_testlib import sparse_pretest

from cat_server import irt
from cat_server.engine_cli import calibrate_command, register, simulate_command
from cat_server.irt import io


def write_responses(path, x, item_ids=None, person=True):
    item_ids = item_ids or [f"I{j}" for j in range(x.shape[1])]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow((["person_id"] if person else []) + item_ids)
        for i, row in enumerate(x):
            w.writerow(([f"P{i}"] if person else []) + ["" if v < 0 else int(v) for v in row])


@pytest.fixture
def responses(tmp_path, rng):
    a = rng.lognormal(0, 0.25, 8)
    b = rng.normal(0, 1, 8)
    x = irt.simulate_responses(rng.normal(size=800), irt.make_items(a, b), rng, missing=0.2)
    path = tmp_path / "responses.csv"
    write_responses(path, x)
    return path


@pytest.fixture
def bank_csv(tmp_path, rng):
    n = 120
    path = tmp_path / "bank.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "item_id",
                "section",
                "model",
                "a",
                "b",
                "c",
                "d",
                "stem",
                "option_a",
                "key",
                "status",
                "enemy_group",
            ]
        )
        for j in range(n):
            w.writerow(
                [
                    f"Q{j}",
                    ["TWK", "TIU"][j % 2],
                    "3pl",
                    round(rng.lognormal(0, 0.3), 3),
                    round(rng.normal(), 3),
                    0.15,
                    1,
                    "Stem, with comma",
                    "x",
                    "a",
                    "retired" if j == 3 else "active",
                    "G1" if j < 4 else "",
                ]
            )
    return path


def test_register_adds_both_commands():
    import click

    @click.group()
    def main():
        pass

    register(main)
    assert set(main.commands) == {"calibrate", "simulate", "eapsum", "link"}


@pytest.mark.parametrize("person", [True, False])
def test_calibrate_writes_params(tmp_path, responses, rng, person):
    if not person:
        x = irt.simulate_responses(
            rng.normal(size=300), irt.make_items(np.ones(4), np.zeros(4)), rng
        )
        write_responses(responses, x, person=False)
    out = tmp_path / "params.csv"
    res = CliRunner().invoke(
        calibrate_command, [str(responses), "--model", "2pl", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "iterations:" in res.output and "log-likelihood:" in res.output
    rows = list(csv.DictReader(open(out)))
    assert rows[0]["item_id"] == "I0" and rows[0]["model"] == "2pl"
    assert {"a", "b", "c", "d", "se_a", "se_b"} <= set(rows[0])
    assert float(rows[0]["a"]) > 0


def test_calibrate_D_rescales_discrimination(tmp_path, responses):
    out1, out2 = tmp_path / "p1.csv", tmp_path / "p2.csv"
    CliRunner().invoke(calibrate_command, [str(responses), "--out", str(out1)])
    CliRunner().invoke(calibrate_command, [str(responses), "--out", str(out2), "--D", "1.702"])
    a1 = float(next(csv.DictReader(open(out1)))["a"])
    a2 = float(next(csv.DictReader(open(out2)))["a"])
    assert abs(a1 / a2 - 1.702) < 1e-3


def test_calibrate_polytomous(tmp_path, rng):
    thr = np.sort(rng.normal(0, 1, (5, 2)), axis=1)
    x = irt.simulate_responses(
        rng.normal(size=600), irt.make_items(np.ones(5), thresholds=thr, model="grm"), rng
    )
    path, out = tmp_path / "r.csv", tmp_path / "p.csv"
    write_responses(path, x)
    res = CliRunner().invoke(calibrate_command, [str(path), "--model", "grm", "--out", str(out)])
    assert res.exit_code == 0, res.output
    header = open(out).readline().strip().split(",")
    assert header[:5] == ["item_id", "model", "a", "b1", "b2"] and "se_b2" in header


@pytest.mark.parametrize("model", ["grm", "gpcm"])
def test_calibrate_refuses_an_empty_category_naming_item_and_score(tmp_path, rng, model):
    # before: exit 0, the GPCM thresholds around score 1 at +17 and -19 after 500 EM steps
    thr = np.sort(rng.normal(0, 1, (4, 3)), axis=1)
    items = irt.make_items(np.ones(4), thresholds=thr, model=model)
    x = irt.simulate_responses(rng.normal(size=600), items, rng)
    x[x[:, 2] == 1, 2] = 2
    path, out = tmp_path / "r.csv", tmp_path / "p.csv"
    write_responses(path, x)
    res = CliRunner().invoke(calibrate_command, [str(path), "--model", model, "--out", str(out)])
    assert res.exit_code == 2
    assert "Item 'I2': nobody scored 1 (scores 0..3)" in res.output
    assert not out.exists()


def test_calibrate_with_anchors(tmp_path, responses):
    out = tmp_path / "params.csv"
    CliRunner().invoke(calibrate_command, [str(responses), "--out", str(out)])
    rows = list(csv.DictReader(open(out)))
    anchors = tmp_path / "anchors.csv"
    with open(anchors, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "model", "a", "b"])
        for r in rows[:4]:
            w.writerow([r["item_id"], "2pl", 1.0, 0.5])
    out2 = tmp_path / "params2.csv"
    res = CliRunner().invoke(
        calibrate_command, [str(responses), "--out", str(out2), "--anchors", str(anchors)]
    )
    assert res.exit_code == 0, res.output
    rows2 = list(csv.DictReader(open(out2)))
    assert float(rows2[0]["b"]) == 0.5 and rows2[0]["se_a"] == ""


BAD = {
    "non_numeric": (
        "person_id,I1,I2\nP1,1,0\nP2,x,1\nP3,0,1\n",
        "row 3, column 2 ('I1')",
        "not a number",
    ),
    "out_of_range": (
        "person_id,I1,I2\nP1,1,0\nP2,0,2\nP3,1,1\n",
        "row 3, column 3 ('I2')",
        "out of range",
    ),
    "constant": ("person_id,I1,I2\nP1,1,0\nP2,1,1\nP3,1,\n", "column 2 ('I1')", "constant"),
    "duplicate": ("person_id,I1,I1\nP1,1,0\nP2,0,1\n", "row 1, column 3 ('I1')", "duplicate"),
    "empty": ("", "", "empty"),
    "ragged": ("person_id,I1,I2\nP1,1,0\nP2,0\n", "row 3", "cells"),
    # the first problem in the file is the one named
    "ragged_before_bad_cell": ("person_id,I1,I2\nP1,1,0\nP2,0\nP3,x,1\n", "row 3", "2 cells"),
    "bad_cell_before_ragged": (
        "person_id,I1,I2\nP1,1,0\nP2,x,1\nP3,0\n",
        "row 3, column 2 ('I1')",
        "'x' is not a number",
    ),
    "two_bad_cells": (
        "person_id,I1,I2\nP1,1,0\nP2,0,7\nP3,y,1\n",
        "row 3, column 3 ('I2')",
        "score 7 is out of range (allowed 0 or 1)",
    ),
    "not_whole": (
        "person_id,I1,I2\nP1,1,0\nP2, 0.5 ,1\nP3,0,1\n",
        "row 3, column 2 ('I1')",
        "'0.5' is not a whole-number score",
    ),
    "bad_after_blank_line": (
        "person_id,I1,I2\nP1,1,0\n\nP2,1,0\nP3,1,-1\n",
        "row 5, column 3 ('I2')",
        "score -1 is out of range",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_calibrate_bad_input_exit_2_and_no_output(tmp_path, case):
    text, where, what = BAD[case]
    path, out = tmp_path / "r.csv", tmp_path / "params.csv"
    path.write_text(text)
    res = CliRunner().invoke(calibrate_command, [str(path), "--out", str(out)])
    assert res.exit_code == 2
    assert where in res.output and what in res.output
    assert res.output.count("Error:") == 1
    assert not out.exists()
    assert not list(tmp_path.glob(".tmp-*"))


def test_reader_accepts_spaces_decimals_and_empty_cells_and_skips_blank_rows(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("person_id,I1,I2,I3\nP1, 1 ,0,1.0\n\n,,,\nP2,0,,0\nP3,1,1,\n")
    pids, item_id, x = io.read_responses(path)
    assert pids == ["P1", "P2", "P3"] and item_id == ["I1", "I2", "I3"]
    assert x.tolist() == [[1, 0, 1], [0, -1, 0], [1, 1, -1]]
    path.write_text("I1,I2\n0,3\n2,1\n")
    pids, _, x = io.read_responses(path, "gpcm", max_score=3)
    assert pids == ["1", "2"] and x.tolist() == [[0, 3], [2, 1]]
    with pytest.raises(io.InputError, match=r"row 3, column 1 \('I1'\): score 4 .*0\.\.3"):
        path.write_text("I1,I2\n0,3\n4,1\n")
        io.read_responses(path, "gpcm", max_score=3)


def test_simulate_writes_report(tmp_path, bank_csv):
    out = tmp_path / "report.json"
    args = [
        "--bank",
        str(bank_csv),
        "--examinees",
        "60",
        "--seed",
        "3",
        "--length",
        "10",
        "--exposure",
        "randomesque:5",
        "--content",
        "TWK=0.5,TIU=0.5",
        "--cut",
        "0",
        "--out",
        str(out),
    ]
    res = CliRunner().invoke(simulate_command, args)
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    for key in (
        "rmse",
        "bias",
        "mean_se",
        "mean_length",
        "max_exposure",
        "overlap",
        "seconds",
        "per_bin",
    ):
        assert key in rep
    assert rep["mean_length"] == 10 and rep["accuracy"] > 0.5
    again = tmp_path / "again.json"
    CliRunner().invoke(simulate_command, args[:-1] + [str(again)])
    assert json.loads(again.read_text())["rmse"] == rep["rmse"]  # seeded


def test_simulate_se_rule_and_sympson_hetter(tmp_path, bank_csv):
    out = tmp_path / "report.json"
    res = CliRunner().invoke(
        simulate_command,
        [
            "--bank",
            str(bank_csv),
            "--examinees",
            "50",
            "--seed",
            "1",
            "--se",
            "0.4",
            "--max-length",
            "25",
            "--exposure",
            "sympson-hetter:0.3",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["mean_length"] <= 25 and "sympson_hetter_seconds" in rep


def test_simulate_bad_bank(tmp_path):
    bank = tmp_path / "bank.csv"
    bank.write_text("item_id,section,model,a,b,c,d\nQ1,S,2pl,1,0,0,1\nQ1,S,2pl,abc,0,0,1\n")
    out = tmp_path / "report.json"
    res = CliRunner().invoke(simulate_command, ["--bank", str(bank), "--out", str(out)])
    assert res.exit_code == 2 and "row 3, column 1 ('item_id')" in res.output
    bank.write_text("item_id,section,model,a,b,c,d\nQ1,S,2pl,1,0,0,1\nQ2,S,2pl,abc,0,0,1\n")
    res = CliRunner().invoke(simulate_command, ["--bank", str(bank), "--out", str(out)])
    assert res.exit_code == 2 and "row 3, column 4 ('a')" in res.output
    assert not out.exists()


def test_simulate_mixed_polytomous_bank(tmp_path):
    bank = tmp_path / "bank.csv"
    bank.write_text(
        "item_id,section,model,a,b,c,d,b1,b2,b3,stem\n"
        "G1,TKP,gpcm,1.1,,,,-1,0,1,x\n"
        "G2,TKP,grm,0.9,,,,-1.5,-0.2,0.8,x\n"
        "G3,TKP,gpcm,1.3,,,,-0.5,0.5,,x\n"
        "Q1,TWK,2pl,1.2,0.3,,,,,,x\n"
        "Q2,TWK,3pl,1.0,-0.3,0.2,,,,,x\n"
        "Q3,TWK,4pl,1.5,0.1,0.1,0.95,,,,x\n"
    )
    out = tmp_path / "report.json"
    res = CliRunner().invoke(
        simulate_command,
        ["--bank", str(bank), "--examinees", "20", "--length", "5", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["mean_length"] == 5


def test_calibrate_a_prior_option_bounds_pretest_discriminations(tmp_path):
    items, x = sparse_pretest(seed=2)
    path, anchors = tmp_path / "r.csv", tmp_path / "anchors.csv"
    write_responses(path, x)
    with open(anchors, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "model", "a", "b"])
        for j in range(30):
            w.writerow([f"I{j}", "2pl", items.a[j], items.b[j]])
    top = {}
    for prior in ("none", "0,0.5"):
        out = tmp_path / f"params-{prior}.csv"
        args = [str(path), "--out", str(out), "--anchors", str(anchors), "--a-prior", prior]
        res = CliRunner().invoke(calibrate_command, args)
        assert res.exit_code == 0, res.output
        top[prior] = max(float(r["a"]) for r in list(csv.DictReader(open(out)))[30:])
    assert top["none"] > 4.5 and top["0,0.5"] < 2.5
    bad = CliRunner().invoke(calibrate_command, [str(path), "--out", "p.csv", "--a-prior", "0"])
    assert bad.exit_code == 2 and "--a-prior" in bad.output
