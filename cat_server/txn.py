"""Group commit: many candidates' answers share one SQLite commit, each acked after it.

SQLite with ``synchronous=FULL`` pays one fsync per commit (about 5 ms on the
centre's disk), and the sqlite3 module holds the gevent hub while it waits, so
one commit per answer caps a server near 170 answers/s with every socket
stalled during each fsync. Here a single writer greenlet runs the candidates'
socket events ("jobs") one after another in ONE transaction, each inside its
own SAVEPOINT, and commits them together; the fsync runs in a native thread so
the hub keeps reading sockets meanwhile. While one batch commits the next one
gathers, so the batch grows with the load and an answer waits at most about
one commit longer than before.

What each job sees and promises is unchanged:

* a job's reply (the ack) leaves the server only after the commit that holds
  its rows returned; if that commit fails, every job in the batch gets the
  database error (the client's ``retry``), never an ack;
* a rejected job (an ExamError) rolls back to its savepoint: the attempt is
  as it was, and the other jobs of the batch are untouched;
* service code marks its commit points with :func:`commit` and
  :func:`rollback`, which are plain ``db.session.commit()`` / ``rollback()``
  outside a batch (PostgreSQL, tests, CLI) and savepoint boundaries inside.

Only on SQLite under gevent (one process, one connection): PostgreSQL
group-commits concurrent transactions by itself and takes the answers of many
connections at once.
"""

from __future__ import annotations

import contextlib
import threading
import time

from flask import current_app, g
from sqlalchemy.exc import DBAPIError

from .extensions import db, socketio

MAX_BATCH = 256  # jobs in one transaction at most
_start_lock = threading.Lock()


class _Job:
    __slots__ = ("fn", "args", "done", "result", "error")

    def __init__(self, fn, args):
        self.fn, self.args = fn, args
        self.done = socketio.server.eio.create_event()
        self.result = self.error = None


def enabled(app) -> bool:
    return bool(app.extensions.get("cat_group_commit"))


def init_app(app) -> None:
    """Decide once: group commit on SQLite under gevent unless CAT_GROUP_COMMIT says otherwise."""
    setting = str(app.config.get("GROUP_COMMIT", "auto")).lower()
    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    if setting == "auto":
        on = sqlite and socketio.async_mode == "gevent"
    else:
        on = sqlite and setting in ("1", "true", "yes", "on")
    app.extensions["cat_group_commit"] = on


def run(fn, *args):
    """Run ``fn(*args)`` as one job of the next group commit; its result once committed.

    Outside group commit (or already inside the writer) it simply calls ``fn``.
    The caller's own session is rolled back first: it must not hold the
    connection the writer needs.
    """
    app = current_app._get_current_object()
    if not enabled(app) or g.get("cat_batch") is not None:
        return fn(*args)
    writer = app.extensions.get("cat_writer")
    if writer is None:
        with _start_lock:
            writer = app.extensions.get("cat_writer")
            if writer is None:
                writer = app.extensions["cat_writer"] = _Writer(app)
    # SQLite has one pooled connection: a read the caller made before (a
    # session check, say) must give it back, or the writer would wait for it
    db.session.rollback()
    job = _Job(fn, args)
    writer.queue.put(job)
    job.done.wait()
    if job.error is not None:
        raise job.error
    return job.result


@contextlib.contextmanager
def pipeline():
    """PostgreSQL: send the statements run inside in one round trip (psycopg pipeline mode).

    Only for writes whose results nobody reads: in pipeline mode a statement
    returns before the server answered, so a SELECT inside would see no rows.
    The server's answers arrive when the block ends; an error among them is
    raised there, as SQLAlchemy's DBAPIError (the client's ``retry``), and the
    transaction is then aborted, so nothing of it can be committed. SQLite
    (and group commit) run the statements one by one as usual.
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    import psycopg

    driver = connection.connection.driver_connection
    try:
        with driver.pipeline():
            yield
    except psycopg.Error as error:
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error


def commit() -> None:
    """A commit point of service code: the savepoint inside a batch, else the transaction."""
    batch = g.get("cat_batch")
    if batch is None:
        db.session.commit()
    else:
        batch.release()


def rollback() -> None:
    batch = g.get("cat_batch")
    if batch is None:
        db.session.rollback()
    else:
        batch.undo()


class _Batch:
    """The savepoint of the job being run, kept with plain SQL on the batch's connection.

    (SQLAlchemy's own begin_nested bookkeeping cost more than the rest of an
    answer's transaction control; the session only needs to forget a rolled
    back job's changes, which ``undo`` does.)
    """

    def __init__(self, connection):
        self.connection = connection
        connection.exec_driver_sql("SAVEPOINT job")

    def release(self):
        db.session.flush()
        self.connection.exec_driver_sql("RELEASE SAVEPOINT job")
        self.connection.exec_driver_sql("SAVEPOINT job")

    def undo(self):
        session = db.session
        for obj in list(session.new):  # added, never flushed: forget
            session.expunge(obj)
        self.connection.exec_driver_sql("ROLLBACK TO SAVEPOINT job")
        self.connection.exec_driver_sql("RELEASE SAVEPOINT job")
        session.expire_all()  # flushed or not, the job's changes are gone from the rows
        self.connection.exec_driver_sql("SAVEPOINT job")

    def close(self):
        self.connection.exec_driver_sql("RELEASE SAVEPOINT job")


class _Writer:
    def __init__(self, app):
        self.app = app
        self.queue = socketio.server.eio.create_queue()
        self.batches = self.jobs = 0
        self.largest = 0
        self.commit_s = 0.0
        socketio.start_background_task(self._loop)

    def _loop(self):
        while True:
            jobs = [self.queue.get()]
            while len(jobs) < MAX_BATCH and not self.queue.empty():
                jobs.append(self.queue.get_nowait())
            self.batches += 1
            self.jobs += len(jobs)
            self.largest = max(self.largest, len(jobs))
            try:
                with self.app.app_context():
                    self._run_batch(jobs)
            except Exception as error:  # the batch is lost: nobody gets an ack
                self.app.logger.exception("group commit of %d jobs failed", len(jobs))
                for job in jobs:
                    if job.error is None:
                        job.result, job.error = None, error
            for job in jobs:
                job.done.set()
            socketio.sleep(0)  # let sessions waiting for the connection have it

    def _run_batch(self, jobs):
        session = db.session
        connection = session.connection()
        raw = connection.connection.dbapi_connection
        # pysqlite begins transactions on its own and breaks SAVEPOINT: take over
        # for this batch (IMMEDIATE: the write lock now, not mid-batch)
        raw.isolation_level = None
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            g.cat_batch = batch = _Batch(connection)
            try:
                for job in jobs:
                    try:
                        job.result = job.fn(*job.args)
                        batch.release()
                    except DBAPIError:
                        raise  # the transaction may be broken: the whole batch retries
                    except Exception as error:
                        job.error = error
                        batch.undo()
                batch.close()  # the empty one the last release opened
            finally:
                g.cat_batch = None
            session.flush()
            started = time.perf_counter()
            _fsync_commit(raw)
            self.commit_s += time.perf_counter() - started
            session.commit()  # SQLAlchemy's bookkeeping; the driver has nothing left to do
        except BaseException:
            session.rollback()
            if raw.in_transaction:
                raw.rollback()
            raise
        finally:
            raw.isolation_level = ""  # back to pysqlite's own behaviour for everyone else
            session.close()


def _fsync_commit(raw) -> None:
    """COMMIT in a native thread: sqlite3 drops the GIL for the fsync, the hub runs on."""
    if socketio.async_mode == "gevent":
        import gevent

        gevent.get_hub().threadpool.apply(raw.commit)
    else:
        raw.commit()


def stats(app) -> dict:
    writer = app.extensions.get("cat_writer")
    if writer is None:
        return {"enabled": enabled(app), "batches": 0, "jobs": 0}
    return {"enabled": True, "batches": writer.batches, "jobs": writer.jobs,
            "largest": writer.largest,
            "mean": round(writer.jobs / writer.batches, 2) if writer.batches else 0,
            "commit_ms": round(1000 * writer.commit_s / writer.batches, 2) if writer.batches
            else 0}
