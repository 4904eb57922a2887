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

Only on SQLite under gevent (one process, one connection). PostgreSQL
group-commits concurrent transactions by itself; there the answers go through
the answer lane instead (``Lane`` below), which batches their statements, not
just their commits.

The public surface comes first in this file: ``run`` (a socket event's unit of
work), ``commit`` / ``rollback`` / ``write`` / ``after_commit`` (what service
code marks), the lane hooks ``lane`` / ``prefetched`` / ``Bounce`` / ``Lane``,
and ``init_app``. The batching machinery follows below it.
"""

from __future__ import annotations

import contextlib
import threading
import time

from flask import current_app, g
from sqlalchemy.exc import DBAPIError

from . import metrics
from .extensions import db, socketio

MAX_BATCH = 256  # jobs in one transaction at most
_start_lock = threading.Lock()


# --- the public surface: what service code and the app factory call -------


def run(fn, *args):
    """Run ``fn(*args)`` as one job of the next batch; its result once committed.

    The batch is SQLite's group commit, or on PostgreSQL the answer lane for a
    ``fn`` that has a ``batch_prefetch`` (``record_answer``). Otherwise (or
    already inside a writer) it simply calls ``fn``. The caller's own session is
    rolled back first: it must not hold the connection the writer needs.
    """
    app = current_app._get_current_object()
    if g.get("cat_batch") is not None or g.get("cat_lane") is not None:
        return fn(*args)
    if lane_enabled(app) and hasattr(fn, "batch_prefetch"):
        return _run_in_lane(app, fn, args)
    if not enabled(app):
        return fn(*args)
    writer = _writer(app, "cat_writer", _Writer)
    # SQLite has one pooled connection: a read the caller made before (a
    # session check, say) must give it back, or the writer would wait for it
    db.session.rollback()
    job = _Job(fn, args)
    writer.queue.put(job)
    job.done.wait()
    if job.error is not None:
        raise job.error
    return job.result


def commit() -> None:
    """A commit point of service code: the savepoint inside a batch, else the transaction.

    In the answer lane the batch commits once, after its last job: nothing here.
    """
    if g.get("cat_lane") is not None:
        return
    batch = g.get("cat_batch")
    if batch is None:
        db.session.commit()
    else:
        batch.release()


def rollback() -> None:
    if g.get("cat_lane") is not None:  # a lane job rolls back only before it changed anything
        return
    batch = g.get("cat_batch")
    if batch is None:
        db.session.rollback()
    else:
        batch.undo()


def write(writes: list) -> None:
    """Run ``[(statement, params)]`` together (txn.pipeline).

    In a batch they wait for the batch's other writes: the answer lane sends
    them all just before its commit; SQLite's group commit before its commit,
    or before a job that might read them (``_Batch.defer``).
    """
    lane = g.get("cat_lane")
    if lane is not None:
        lane.writes.extend(writes)
        return
    batch = g.get("cat_batch")
    if batch is not None and batch.defer(writes):
        return
    with pipeline():
        _send(db.session.connection(), writes)


def after_commit(fn, *args) -> None:
    """Call ``fn(*args)`` once the work so far is committed (now, outside the answer lane)."""
    lane = g.get("cat_lane")
    if lane is not None:
        lane.callbacks.append((fn, args))
    else:
        fn(*args)


def lane():
    """The answer lane's batch being run by this greenlet, or None."""
    return g.get("cat_lane")


def prefetched(attempt_id, seq):
    """SQLite's group commit: the ``(attempt, item presented at seq)`` read for this
    answer together with its batch's others, or None (read it yourself)."""
    batch = g.get("cat_batch")
    return _take(batch.prefetched, attempt_id, seq) if batch is not None else None


class Bounce(Exception):
    """A lane job that cannot run inside the batch, raised before it changed anything."""


class Lane:
    """PostgreSQL: many candidates' answers in one transaction of two round trips.

    On PostgreSQL an answer's own cost is its statements (SQLAlchemy and
    psycopg work per statement, a gevent wait per round trip), not the commit:
    batching the commits alone (as on SQLite) gained nothing. Here one writer
    greenlet per process takes the answers that arrived meanwhile and:

    1. locks every attempt of the batch and reads it with the item presented at
       its answer's seq, in ONE statement, in attempt id order (two processes'
       batches then take their locks in the same order: no deadlock);
    2. runs each answer's checks and scoring in Python; its writes (INSERT
       response, INSERT next presentation, UPDATE attempt) are queued;
    3. sends every queued write (one executemany per statement) and COMMIT;
       then acks.

    (BEGIN goes out with the lock, the writes with COMMIT: two round trips for
    the whole batch, where each answer on its own costs four.)

    An answer that needs more than that (adaptive and navigable sections, the
    last item of a section, a deadline passed, a second answer of the same
    attempt in the batch) is bounced before it changed anything and runs on its
    own, as without the lane, once the batch is committed. A rejected answer
    (wrong seq, invalid choice, ...) queued nothing. If the batch fails at the
    database, every answer of it gets the error (the client's ``retry``), none
    an ack.
    """

    def __init__(self, prefetched: dict):
        self.prefetched = prefetched  # attempt id -> (seq, row)
        self.writes: list = []
        self.callbacks: list = []
        self.current = None

    def take(self, attempt_id, seq):
        """The locked row for this answer (once per attempt), or None: run it on its own."""
        row = _take(self.prefetched, attempt_id, seq)
        if row is not None:
            self.current = row[0]
        return row


def init_app(app) -> None:
    """Decide once, under gevent unless CAT_GROUP_COMMIT says otherwise: group commit on
    SQLite, the answer lane (batched answers) on PostgreSQL."""
    setting = str(app.config.get("GROUP_COMMIT", "auto")).lower()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if setting == "auto":
        on = socketio.async_mode == "gevent"
    else:
        on = setting in ("1", "true", "yes", "on")
    app.extensions["cat_group_commit"] = on and uri.startswith("sqlite")
    app.extensions["cat_answer_lane"] = on and uri.startswith("postgresql")
    if app.extensions["cat_answer_lane"]:
        from sqlalchemy import event

        with app.app_context():
            event.listen(db.engine, "after_cursor_execute", sync_pipelined_reads)


def enabled(app) -> bool:
    return bool(app.extensions.get("cat_group_commit"))


def lane_enabled(app) -> bool:
    return bool(app.extensions.get("cat_answer_lane"))


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


def sync_pipelined_reads(conn, cursor, statement, parameters, context, executemany) -> None:
    """``after_cursor_execute``: inside ``_pipelined``, a read's rows arrive before
    SQLAlchemy looks for them (a write stays queued)."""
    pipe = conn.info.get("cat_pipeline")
    if (
        pipe is not None
        and context is not None
        and context.compiled is not None
        and not (context.isinsert or context.isupdate or context.isdelete)
    ):
        pipe.sync()


def stats(app) -> dict:
    writer = app.extensions.get("cat_writer") or app.extensions.get("cat_lane_writer")
    if writer is None:
        return {"enabled": enabled(app), "batches": 0, "jobs": 0}
    return {
        "enabled": True,
        "batches": writer.batches,
        "jobs": writer.jobs,
        "largest": writer.largest,
        "mean": round(writer.jobs / writer.batches, 2) if writer.batches else 0,
        "commit_ms": round(1000 * writer.commit_s / writer.batches, 2) if writer.batches else 0,
    }


# --- the machinery: batches, writers, the lane's pipeline ------------------


class _Job:
    __slots__ = ("fn", "args", "done", "result", "error", "bounced")

    def __init__(self, fn, args):
        self.fn, self.args = fn, args
        self.done = socketio.server.eio.create_event()
        self.result = self.error = None
        self.bounced = False


@contextlib.contextmanager
def _pipelined(connection):
    """PostgreSQL pipeline mode for a whole transaction, reads included.

    Statements are queued, not sent. A read (a compiled statement that is not
    INSERT, UPDATE or DELETE) sends what is queued and waits for its rows: the
    ``after_cursor_execute`` hook syncs the pipeline, so SQLAlchemy finds the
    result as usual. Leaving the block sends the rest and reads every answer; a
    database error among them is raised there as DBAPIError.
    """
    import psycopg

    driver = connection.connection.driver_connection
    # the dict itself: after a disconnect, Connection.info would raise PendingRollbackError
    # over the driver's error, which the socket layer would not answer with ``retry``
    info = connection.info
    try:
        with driver.pipeline() as pipe:
            info["cat_pipeline"] = pipe
            try:
                yield
            finally:
                info.pop("cat_pipeline", None)
    except psycopg.Error as error:
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error


def _send(connection, writes: list) -> None:
    """``[(statement, params)]`` with one executemany per statement, in first-seen order.

    A batch's writes are many answers' INSERT response, INSERT presentation
    and UPDATE attempt: three calls instead of three per answer, which is most
    of what SQLAlchemy costs per statement. Only for writes of different rows
    (each attempt's writes once), whose order between statements is free.
    """
    groups: dict = {}
    for statement, params in writes:
        groups.setdefault(statement, []).append(params)
    for statement, rows in groups.items():
        connection.execute(statement, rows)


def _take(prefetched: dict, attempt_id, seq):
    """The row read ahead for this answer (once per attempt: popped), or None."""
    entry = prefetched.pop(attempt_id, None)
    return entry[1] if entry is not None and entry[0] == seq else None


def _answer_key(job):
    """The attempt of an answer job (its function reads batches: ``batch_prefetch``)."""
    return job.args[0] if hasattr(job.fn, "batch_prefetch") and job.args else None


def _writer(app, key, cls):
    """The process's writer greenlet of this kind, started on first use."""
    writer = app.extensions.get(key)
    if writer is None:
        with _start_lock:
            writer = app.extensions.get(key)
            if writer is None:
                writer = app.extensions[key] = cls(app)
    return writer


def _run_in_lane(app, fn, args):
    writer = _writer(app, "cat_lane_writer", _LaneWriter)
    db.session.rollback()  # nothing of the caller's stays open while it waits
    job = _Job(fn, args)
    writer.queue.put(job)
    job.done.wait()
    if job.bounced:
        return fn(*args)
    if job.error is not None:
        raise job.error
    return job.result


class _Batch:
    """The savepoint of the job being run, kept with plain SQL on the batch's connection.

    (SQLAlchemy's own begin_nested bookkeeping cost more than the rest of an
    answer's transaction control; the session only needs to forget a rolled
    back job's changes, which ``undo`` does.)
    """

    def __init__(self, connection):
        self.connection = connection
        self.key = None  # the attempt of the job being run, when its writes may wait
        self.pending: list = []  # writes of earlier jobs, not yet sent
        self.pending_keys: set = set()
        self.prefetched: dict = {}  # attempt id -> (seq, (attempt, item)), see ``before``
        connection.exec_driver_sql("SAVEPOINT job")

    def defer(self, writes) -> bool:
        """Keep the job's writes for one executemany with the others' (True), if it may wait."""
        if self.key is None:
            return False
        self.pending.extend(writes)
        self.pending_keys.add(self.key)
        return True

    def before(self, job, upcoming) -> None:
        """Send the pending writes if ``job`` might read them: anything but an answer
        (``batch_prefetch``, first argument the attempt) to an attempt without any.

        An answer whose attempt was not read yet reads it together with those of
        the answers right after it (up to the next job that is not an answer,
        which might change attempts: it ends the run and drops what was read).
        """
        key = _answer_key(job)
        if self.pending and (key is None or key in self.pending_keys):
            self.send()
        self.key = key
        if key is None:
            self.prefetched.clear()  # read before this job: not to be trusted after it
        elif key not in self.prefetched:
            calls = []
            for other in upcoming:
                other_key = _answer_key(other)
                if other_key is None:
                    break
                if other_key not in self.prefetched and other_key not in self.pending_keys:
                    calls.append(other.args)
            self.prefetched.update(job.fn.batch_prefetch(calls))

    def send(self) -> None:
        """The pending writes, then a new savepoint: a later job's undo cannot take them back."""
        if self.pending:
            _send(self.connection, self.pending)
            self.pending, self.pending_keys = [], set()
            self.connection.exec_driver_sql("RELEASE SAVEPOINT job")
            self.connection.exec_driver_sql("SAVEPOINT job")

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
                for index, job in enumerate(jobs):
                    batch.before(job, jobs[index:])
                    waiting = len(batch.pending)
                    try:
                        job.result = job.fn(*job.args)
                        batch.release()
                    except DBAPIError:
                        raise  # the transaction may be broken: the whole batch retries
                    except Exception as error:
                        job.error = error
                        del batch.pending[waiting:]  # (its key may stay: one send too many)
                        batch.undo()
                batch.send()
                batch.close()  # the empty one the last release opened
            finally:
                g.cat_batch = None
            session.flush()
            started = time.perf_counter()
            _fsync_commit(raw)
            seconds = time.perf_counter() - started
            self.commit_s += seconds
            metrics.batch_committed("sqlite", len(jobs), seconds)
            session.commit()  # SQLAlchemy's bookkeeping; the driver has nothing left to do
        except BaseException:
            session.rollback()
            if raw.in_transaction:
                raw.rollback()
            raise
        finally:
            raw.isolation_level = ""  # back to pysqlite's own behaviour for everyone else
            session.close()


class _LaneWriter(_Writer):
    def _run_batch(self, jobs):
        """The batch in two round trips: BEGIN with the lock statement, then every write
        with COMMIT (psycopg's pipeline mode; see ``_pipelined``)."""
        session = db.session
        by_fn: dict = {}
        for job in jobs:
            by_fn.setdefault(job.fn, []).append(job.args)
        # psycopg would send its own BEGIN and wait for it: here BEGIN and COMMIT are ours
        connection = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        try:
            with _pipelined(connection):
                connection.exec_driver_sql("BEGIN")  # leaves with the lock statement
                prefetched: dict = {}
                for fn, calls in by_fn.items():
                    prefetched.update(fn.batch_prefetch(calls))
                g.cat_lane = lane = Lane(prefetched)
                try:
                    self._run_jobs(session, lane, jobs)
                finally:
                    g.cat_lane = None
                if session.new or session.dirty or session.deleted:
                    # the ORM would flush after our COMMIT, outside the transaction
                    raise RuntimeError("an answer-lane job changed rows outside txn.write")
                if lane.writes:
                    _send(connection, lane.writes)
                connection.exec_driver_sql("COMMIT")
                started = time.perf_counter()
            # leaving the pipeline sent the writes and COMMIT and read their results
            seconds = time.perf_counter() - started
            self.commit_s += seconds
            metrics.batch_committed("postgresql", len(jobs), seconds)
            session.commit()  # SQLAlchemy's bookkeeping; the driver has nothing left to do
        except BaseException:
            session.rollback()  # psycopg sends ROLLBACK if the transaction is still open
            raise
        finally:
            session.close()
        for fn, args in lane.callbacks:
            fn(*args)

    def _run_jobs(self, session, lane, jobs):
        for job in jobs:
            lane.current = None
            writes, callbacks = len(lane.writes), len(lane.callbacks)
            try:
                job.result = job.fn(*job.args)
            except Bounce:
                job.bounced = True
            except DBAPIError:
                raise  # the transaction may be broken: the whole batch retries
            except Exception as error:
                job.error = error
                del lane.writes[writes:]
                del lane.callbacks[callbacks:]
                self._forget(session, lane.current)

    @staticmethod
    def _forget(session, attempt):
        """A rejected job's changes, if any, never reach the database."""
        for obj in list(session.new):
            session.expunge(obj)
        if attempt is not None and attempt in session:
            session.expunge(attempt)


def _fsync_commit(raw) -> None:
    """COMMIT in a native thread: sqlite3 drops the GIL for the fsync, the hub runs on."""
    if socketio.async_mode == "gevent":
        import gevent

        gevent.get_hub().threadpool.apply(raw.commit)
    else:
        raw.commit()
