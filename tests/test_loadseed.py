"""``cat-server load-seed`` run twice, and its clean-up (issue 23, defect 7)."""

import csv

from cat_server.extensions import db
from cat_server.models import Sitting, User


def seed(runner, tmp_path, name, *extra):
    out = tmp_path / name
    result = runner.invoke(
        args=["load-seed", "--seats", "3", "--items", "5", "--csv", str(out), *extra]
    )
    assert result.exit_code == 0, result.output
    with out.open() as f:
        return result.output, list(csv.DictReader(f))


def test_load_seed_twice_hands_back_the_unused_sitting(app, runner, client, tmp_path):
    first, rows = seed(runner, tmp_path, "a.csv")
    again, rows_again = seed(runner, tmp_path, "b.csv")
    assert "created" in first and "exists already, unused: handed back" in again
    assert rows_again == rows  # the same logins, PINs included
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Sitting)).scalar() == 1
    # once a candidate has logged in, the next run makes a fresh sitting
    sitting_id = int(first.strip().splitlines()[-1])
    login = client.post(
        f"/exam/{sitting_id}/",
        data={"registration_no": rows[0]["registration_no"], "pin": rows[0]["pin"]},
    )
    assert login.status_code == 302
    third, rows_third = seed(runner, tmp_path, "c.csv")
    assert "created" in third and int(third.strip().splitlines()[-1]) != sitting_id
    assert {r["registration_no"] for r in rows_third}.isdisjoint(r["registration_no"] for r in rows)


def test_clean_up_deactivates_the_load_test_proctor(app, runner, tmp_path):
    seed(runner, tmp_path, "a.csv")
    result = runner.invoke(args=["load-seed", "--clean-up"])
    assert result.exit_code == 0, result.output
    assert "loadtest is deactivated" in result.output
    assert "1 load-test sitting(s) stay" in result.output
    with app.app_context():
        assert (
            not db.session.execute(db.select(User).filter_by(username="loadtest"))
            .scalar_one()
            .active
        )
    # a new load test lets the proctor in again
    seed(runner, tmp_path, "b.csv")
    with app.app_context():
        assert (
            db.session.execute(db.select(User).filter_by(username="loadtest")).scalar_one().active
        )


def test_load_seed_without_sizes_says_what_it_needs(runner):
    result = runner.invoke(args=["load-seed"])
    assert result.exit_code == 2
    assert "--seats and --csv are required" in result.output
