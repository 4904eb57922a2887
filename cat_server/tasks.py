"""The server process's background tasks: proctor feed, deadline reaper, heartbeat, consoles.

Started once per process by the gunicorn entry point (wsgi.py); above the
rooms, so it may use any of them and none of them imports it.
"""

from __future__ import annotations

from . import live_sockets, metrics, refusals, socket_limits, staff_sessions
from .exam import clock, presence
from .extensions import socketio
from .proctor import feed, sessions
from .results import forward


def start_background_tasks(app) -> None:
    """The proctor feed and the deadline reaper, once per server process."""
    if app.extensions.get("cat_tasks_started"):
        return
    app.extensions["cat_tasks_started"] = True
    metrics.start()
    with app.app_context():
        if not app.config["REDIS_URL"]:
            # Alone, no socket of a previous run can still be open. With Redis,
            # other processes hold live sockets: their marks stay.
            presence.clear_connections()
        credited = clock.credit_downtime()
        if credited:
            app.logger.warning("server was down %.0f s: credited to running attempts", credited)
        clock.finish_expired()
    socketio.start_background_task(feed.run, app)
    if app.config["REDIS_URL"]:
        socketio.start_background_task(feed.listen, app)  # other processes' changed seats
    socketio.start_background_task(_reap, app)
    socketio.start_background_task(_heartbeat, app)
    socketio.start_background_task(_end_anonymous_sockets, app)
    if app.config["REDIS_URL"]:
        socketio.start_background_task(_refresh_live_sockets, app)
        socketio.start_background_task(_beat_process, app)
    socketio.start_background_task(_note_consoles, app)
    socketio.start_background_task(_audit_refusals, app)
    if app.config["NATIONAL_URL"]:
        socketio.start_background_task(_forward_results, app)


def _audit_refusals(app) -> None:
    """Write the ended minutes' refusal counts to the audit log (refusals.py)."""
    while True:
        socketio.sleep(5.0)
        try:
            with app.app_context():
                refusals.flush(app)
        except Exception:
            app.logger.exception("auditing refusals failed")


def _forward_results(app) -> None:
    """Bundle ended sittings and send them to CAT_NATIONAL_URL until acknowledged (forward.py)."""
    while True:
        socketio.sleep(float(app.config["RESULTS_FORWARD_S"]))
        try:
            with app.app_context():
                forward.run_once()
        except Exception:
            app.logger.exception("forwarding result bundles failed")


def _note_consoles(app) -> None:
    """Open proctor consoles are activity: their staff sessions do not time out."""
    while True:
        socketio.sleep(staff_sessions.TOUCH_EVERY_S)
        try:
            with app.app_context():
                sessions.note_open_consoles()
        except Exception:
            app.logger.exception("noting the open consoles failed")


def _heartbeat(app) -> None:
    """Write the heartbeat row; its gap after a crash tells how long the server was down."""
    while True:
        socketio.sleep(app.config["HEARTBEAT_INTERVAL"])
        try:
            with app.app_context():
                clock.beat()
            metrics.note_memory()
        except Exception:
            app.logger.exception("heartbeat failed")


def _reap(app) -> None:
    """Finish attempts whose time is up, whether a browser is there or not."""
    while True:
        socketio.sleep(app.config["REAPER_INTERVAL"])
        try:
            with app.app_context():
                clock.finish_expired()
        except Exception:
            app.logger.exception("deadline reaper failed")


def _end_anonymous_sockets(app) -> None:
    """End engine.io sessions that never join a namespace (socket_limits.py)."""
    grace = float(app.config["ANON_SOCKET_GRACE"])
    first_seen: dict = {}
    while True:
        socketio.sleep(max(1.0, grace / 2))
        try:
            ended = socket_limits.end_anonymous(first_seen, grace)
            if ended:
                app.logger.warning("ended %d websocket sessions that joined no namespace", ended)
        except Exception:
            app.logger.exception("anonymous socket sweep failed")


def _beat_process(app) -> None:
    """This process is alive: another one that takes over its workstations knows it died."""
    while True:
        try:
            with app.app_context():
                live_sockets.beat()
        except Exception:
            app.logger.exception("process beat failed")
        socketio.sleep(live_sockets.PROCESS_BEAT_S)


def _refresh_live_sockets(app) -> None:
    """Keep this process's workstation sockets known as live to the others (live_sockets.py)."""
    while True:
        socketio.sleep(live_sockets.LIVE_REFRESH_S)
        try:
            with app.app_context():
                live_sockets.refresh("/exam")
        except Exception:
            app.logger.exception("live socket refresh failed")
