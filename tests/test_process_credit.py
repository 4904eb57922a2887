"""Seconds lost when a server process dies, credited once (issue 23, defect 10).

tests/test_nginx_layout.py shows it end to end (kill -9 behind nginx); these are
the rules of ``clock.credit_lost_process`` on both databases.
"""

from datetime import timedelta

import pytest

from cat_server.exam import clock
from cat_server.extensions import db
from cat_server.models import Attempt, AuditEvent, Heartbeat, utcnow
from tests.test_sections import SKD_ITEMS, SKD_SECTIONS, build_sitting, connect


@pytest.fixture
def running(app):
    with app.app_context():
        sitting_id = build_sitting(SKD_SECTIONS, SKD_ITEMS, n_candidates=1)
    connect(app, sitting_id, "R1")
    with app.app_context():
        return db.session.query(Attempt).one().id


def test_the_seconds_since_the_dead_process_last_beat_are_credited(app, running):
    with app.app_context():
        attempt = db.session.get(Attempt, running)
        before = attempt.deadline_at
        now = utcnow()
        assert clock.credit_lost_process(attempt, now - timedelta(seconds=2.5), now) == (
            pytest.approx(2.5)
        )
        db.session.commit()
        attempt = db.session.get(Attempt, running)
        assert (attempt.deadline_at - before).total_seconds() == pytest.approx(2.5)
        row = db.session.query(AuditEvent).filter_by(action="downtime_credit").one()
        assert row.reason == "server process died" and row.data["seconds"] == 2.5


def test_a_window_already_credited_at_start_up_is_not_credited_again(app, running):
    with app.app_context():
        now = utcnow()
        # every process died; the restart credited the gap up to now - 1 s
        db.session.add(Heartbeat(name=clock.CREDITED_NAME, beat_at=now - timedelta(seconds=1)))
        db.session.commit()
        attempt = db.session.get(Attempt, running)
        assert clock.credit_lost_process(attempt, now - timedelta(seconds=30), now) == (
            pytest.approx(1.0)
        )


def test_a_paused_attempt_gets_nothing_here(app, running):
    with app.app_context():
        attempt = db.session.get(Attempt, running)
        attempt.paused_at = utcnow()
        now = utcnow()
        assert clock.credit_lost_process(attempt, now - timedelta(seconds=5), now) == 0.0
        assert db.session.query(AuditEvent).filter_by(action="downtime_credit").count() == 0
