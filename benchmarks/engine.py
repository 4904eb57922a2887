"""The IRT engine against plain numpy (benchmarks/plain.py), catsim and girth, in one run.

    .venv/bin/pip install -e '.[bench]'        # catsim==0.21.0, girth==0.8.0
    .venv/bin/python -m benchmarks.engine --json bench-engine.json

Three measurements, each engine figure next to the plain-numpy baseline of
benchmarks/plain.py and the peer (skipped with a note if not installed):

1. one CAT step (record the answer, EAP on 61 points, choose the next item) on
   500-, 1,000- and 10,000-item 3PL banks: the engine with no rules, with
   catsim's rules (randomesque, k = 5) and with production rules (content
   proportions over three sections, enemy groups, randomesque k = 5), the plain
   loop (no rules), and catsim's step (its estimator + its randomesque
   selector);
2. 1,000 simulated candidates x 30 items on a 500-item bank, maximum
   information, no exposure control: ``simulate_cat``, the plain loop (given
   the very answers simulate_cat draws, so the two RMSEs should agree) and
   catsim's Simulator (same bank, same abilities, its own draws), with each
   one's RMSE; then 100,000 candidates in one ``simulate_cat`` call (time and
   peak memory);
3. 2PL calibration of 20,000 x 100 (a ~ U(0.7, 2.0), b and theta ~ N(0, 1)):
   ``calibrate`` (with and without standard errors), the plain EM and girth's
   ``twopl_mml``: seconds, EM iterations, RMSE of a and b, peak memory;
4. ``prepare_bank`` of a 100,000-item bank as the server has it (TWK 30 % and
   TIU 35 % 3PL, TKP 35 % GPCM with five score categories; item ids, sections,
   one item in ten in an enemy group of three, 5 % pretest, 2 % retired;
   labels as Python lists, as read from the database) against
   ``plain_bank_tables`` (the same log P and information tables in float64,
   no sections or enemy groups): seconds, peak memory and the memory the
   bank keeps;
5. the ``calibrate`` CLI's reader ``io.read_responses`` on a 20,000 x 100
   response CSV (``person_id`` + 0/1 cells, every cell answered) against
   ``numpy.loadtxt`` and the ``csv`` module + ``numpy.array`` on the same file.

The box is usually shared, so every figure is the median of ``--repeats``
rounds in which the engine and the plain loop run alternately (the order
rotates each round); ratios within a round are steadier than absolute times.
Peers are slow and run in the first ``--peer-repeats`` rounds only. BLAS runs
one thread (``OPENBLAS_NUM_THREADS=1`` unless set): on a shared box its threads
only wait for each other. Peak memory
is tracemalloc's peak (numpy reports its buffers to it) during the call, the
input matrix not counted, measured in a separate untimed call.
``--quick`` uses small sizes (a smoke test, not the published figures).
"""

from __future__ import annotations

import os

# One BLAS thread for every contestant unless told otherwise: on the shared
# 2-core box OpenBLAS's threads wait for each other and made matrix products up
# to 6x slower (a 128 x 61 x 300 product: 11 ms instead of 1.7 ms).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.plain import (  # noqa: E402
    PlainCat,
    plain_bank_tables,
    plain_em_2pl,
    plain_read_csv,
    plain_read_loadtxt,
    plain_simulate,
)
from cat_server import irt  # noqa: E402
from cat_server.irt import io as irt_io  # noqa: E402

try:  # peers are optional (pip install -e '.[bench]')
    import catsim
    from catsim.estimation import NumericalSearchEstimator
    from catsim.initialization import FixedPointInitializer
    from catsim.item_bank import ItemBank
    from catsim.selection import MaxInfoSelector, RandomesqueSelector
    from catsim.simulation import Simulator
    from catsim.stopping import TestLengthStopper
except ImportError:  # pragma: no cover
    catsim = None
try:
    import girth
except ImportError:  # pragma: no cover
    girth = None

SECTIONS = ("TWK", "TIU", "TKP")
CONTENT = {"TWK": 0.3, "TIU": 0.35, "TKP": 0.35}
LENGTH = 30


def make_bank_arrays(n, seed):
    g = np.random.default_rng(seed)
    return g.lognormal(0, 0.3, n), g.normal(0, 1, n), g.uniform(0, 0.25, n)


def enemy_groups(n):
    """One item in ten belongs to an enemy group of three."""
    return np.array([f"E{j // 30}-{j % 3}" if j % 10 == 0 else "" for j in range(n)], dtype=object)


def peak_bytes(fn, *args, kept=False, **kwargs):
    """tracemalloc's peak during ``fn(*args, **kwargs)``, in bytes above the start.

    ``kept=True``: also the bytes still held by the result when it returns.
    """
    out = None
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = fn(*args, **kwargs)
        now, peak = tracemalloc.get_traced_memory()
        return (peak - base, now - base) if kept else peak - base
    finally:
        del out
        tracemalloc.stop()


def interleaved(jobs, repeats, cpu=None):
    """Seconds of each job, ``repeats`` rounds, the order rotating each round.

    ``cpu``: a dict that receives each job's CPU seconds (``time.process_time``)
    too, which depend less on what else runs on a shared box.
    """
    names = list(jobs)
    res = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            c0, t0 = time.process_time(), time.perf_counter()
            jobs[name]()
            res[name].append(time.perf_counter() - t0)
            if cpu is not None:
                cpu.setdefault(name, []).append(time.process_time() - c0)
    return res


# -- 1. one CAT step -----------------------------------------------------------------


class _Engine:
    def __init__(self, bank, cfg):
        self.bank, self.cfg = bank, cfg

    def start(self, rng):
        self.rng = rng
        self.state = irt.CatState.new(self.bank)
        return irt.step(self.bank, self.state, self.cfg, rng).item

    def answer(self, j, x):
        self.state.record(self.bank, j, x)
        return irt.step(self.bank, self.state, self.cfg, self.rng).item


class _Plain:
    def __init__(self, a, b, c):
        self.cat = PlainCat(a, b, c)

    def start(self, rng):
        self.cat.start()
        return self.cat.step()[2]

    def answer(self, j, x):
        self.cat.record(j, x)
        return self.cat.step()[2]


class _Catsim:
    """catsim's own step: its randomesque selector, then its estimator."""

    def __init__(self, a, b, c):
        self.ib = ItemBank(np.column_stack([a, b, c, np.ones(len(a))]))
        self.est = NumericalSearchEstimator()
        self.sel = RandomesqueSelector(5)

    def _select(self):
        return int(
            self.sel.select(
                item_bank=self.ib,
                administered_items=self.given,
                est_theta=self.theta,
                rng=self.rng,
            )
        )

    def start(self, rng):
        self.rng, self.given, self.resp, self.theta = rng, [], [], 0.0
        return self._select()

    def answer(self, j, x):
        self.given.append(j)
        self.resp.append(bool(x))
        self.theta = self.est.estimate(
            item_bank=self.ib,
            administered_items=self.given,
            response_vector=self.resp,
            est_theta=self.theta,
        )
        return self._select()


def _one_test(runner, a, b, c, rng, times):
    """Run one 30-item test; append the microseconds of each step (answer + next item)."""
    theta = rng.normal()
    j = runner.start(rng)
    for _ in range(LENGTH - 1):
        x = int(rng.random() < c[j] + (1 - c[j]) / (1 + np.exp(-a[j] * (theta - b[j]))))
        t0 = time.perf_counter()
        j = runner.answer(j, x)
        times.append((time.perf_counter() - t0) * 1e6)
        if j is None:
            break


def bench_step(n_items, n_tests, repeats, peer_tests, peer_repeats, seed=0):
    """Median microseconds of one step: engine (no rules, rules), plain loop, catsim.

    Within a round the runners take turns test by test (the order rotating), so
    each meets the same load on a shared box; a round's figure is its median
    step, the result the median over rounds.
    """
    a, b, c = make_bank_arrays(n_items, seed)
    section = np.array(SECTIONS)[np.arange(n_items) % 3]
    runners = {
        "engine": _Engine(irt.prepare_bank(a, b, c), irt.CatConfig(max_length=LENGTH)),
        # catsim's own rules: randomesque (k = 5), nothing else
        "engine_randomesque": _Engine(
            irt.prepare_bank(a, b, c),
            irt.CatConfig(max_length=LENGTH, exposure="randomesque", randomesque_k=5),
        ),
        "engine_rules": _Engine(
            irt.prepare_bank(a, b, c, section=section, enemy_group=enemy_groups(n_items)),
            irt.CatConfig(
                max_length=LENGTH, content=CONTENT, exposure="randomesque", randomesque_k=5
            ),
        ),
        "plain": _Plain(a, b, c),
    }
    if catsim is not None:
        runners["catsim"] = _Catsim(a, b, c)
    names = list(runners)
    rounds = {name: [] for name in names}
    for r in range(repeats):
        times = {name: [] for name in names}
        rngs = {name: np.random.default_rng([seed, r]) for name in names}
        for t in range(n_tests):
            k = t % len(names)
            for name in names[k:] + names[:k]:
                if name == "catsim" and (r >= peer_repeats or t >= peer_tests):
                    continue
                _one_test(runners[name], a, b, c, rngs[name], times[name])
        for name in names:
            if times[name]:
                rounds[name].append(statistics.median(times[name]))
    out = {"n_items": n_items, "rounds": rounds}
    for name, vals in rounds.items():
        out[f"{name}_us"] = statistics.median(vals)
    return out


# -- 2. simulation -------------------------------------------------------------------


def bench_simulation(n_examinees, repeats, peer_repeats, n_items=500, seed=1):
    """Seconds and RMSE of n_examinees x 30 on an n_items bank: engine, plain loop, catsim."""
    a, b, c = make_bank_arrays(n_items, seed)
    theta = np.random.default_rng(seed).normal(size=n_examinees)
    bank = irt.prepare_bank(a, b, c)
    cfg = irt.CatConfig(max_length=LENGTH)
    res = {"engine": [], "plain": [], "catsim": []}
    rmse = {}

    # the answers simulate_cat draws (a block at a time, then the block's
    # attempt seeds), so the plain loop meets the very same candidates
    block = 500
    draw = np.random.default_rng(seed)
    responses = []
    for start in range(0, n_examinees, block):
        responses.append(irt.simulate_responses(theta[start : start + block], bank.items, draw))
        draw.integers(2**62, size=len(responses[-1]))
    responses = np.concatenate(responses)

    def engine():
        rep = irt.simulate_cat(bank, cfg, theta, np.random.default_rng(seed), block=block)
        rmse["engine"] = rep["rmse"]

    def plain():
        est = plain_simulate(a, b, c, responses, LENGTH)
        rmse["plain"] = float(np.sqrt(np.mean((est - theta) ** 2)))

    def peer():
        sim = Simulator(ItemBank(np.column_stack([a, b, c, np.ones(n_items)])), theta, seed=seed)
        sim.simulate(
            FixedPointInitializer(0.0),
            MaxInfoSelector(),
            NumericalSearchEstimator(),
            TestLengthStopper(max_items=LENGTH),
        )
        rmse["catsim"] = float(sim.rmse)

    jobs = {"engine": engine, "plain": plain, "catsim": peer if catsim is not None else None}
    names = list(jobs)
    for r in range(repeats):
        for name in names[r % 3 :] + names[: r % 3]:
            if jobs[name] is None or (name == "catsim" and r >= peer_repeats):
                continue
            t0 = time.perf_counter()
            jobs[name]()
            res[name].append(time.perf_counter() - t0)
    out = {"n_examinees": n_examinees, "n_items": n_items, "length": LENGTH, "rounds_s": res}
    for name, vals in res.items():
        if vals:
            out[f"{name}_seconds"] = statistics.median(vals)
            out[f"{name}_rmse"] = rmse[name]
    # catsim scores by MLE: the engine's test with its final score by MLE too
    t0 = time.perf_counter()
    rep = irt.simulate_cat(
        bank, cfg, theta, np.random.default_rng(seed), block=block, final_estimator="mle"
    )
    out["engine_mle_seconds"] = time.perf_counter() - t0
    out["engine_mle_rmse"] = rep["rmse"]
    return out


def bench_simulation_large(n_examinees, n_items=500, seed=3):
    """One simulate_cat call with many candidates: seconds and peak memory."""
    a, b, c = make_bank_arrays(n_items, seed)
    theta = np.random.default_rng(seed).normal(size=n_examinees)
    bank = irt.prepare_bank(a, b, c)
    cfg = irt.CatConfig(max_length=LENGTH)
    t0 = time.perf_counter()
    rep = irt.simulate_cat(bank, cfg, theta, np.random.default_rng(seed))
    seconds = time.perf_counter() - t0
    peak = peak_bytes(irt.simulate_cat, bank, cfg, theta, np.random.default_rng(seed))
    return {
        "n_examinees": n_examinees,
        "seconds": seconds,
        "rmse": rep["rmse"],
        "peak_mb": peak / 2**20,
    }


# -- 3. calibration ------------------------------------------------------------------


def calibration_data(n_persons, n_items, seed=2):
    g = np.random.default_rng(seed)
    a = g.uniform(0.7, 2.0, n_items)
    b = g.normal(0, 1, n_items)
    x = irt.simulate_responses(g.normal(size=n_persons), irt.make_items(a, b), g)
    return a, b, x


def bench_calibration(n_persons, n_items, repeats, peer_repeats, seed=2):
    a, b, x = calibration_data(n_persons, n_items, seed)

    def rmse(u, v):
        return float(np.sqrt(np.mean((np.asarray(u) - v) ** 2)))

    fits = {}

    def engine():
        fits["engine"] = irt.calibrate(x, "2pl", compute_se=False)

    def engine_se():
        fits["engine_se"] = irt.calibrate(x, "2pl")

    def plain():
        fits["plain"] = plain_em_2pl(x)

    def peer():
        fits["girth"] = girth.twopl_mml(x.T.astype(int))

    jobs = {"engine": engine, "engine_se": engine_se, "plain": plain}
    if girth is not None:
        jobs["girth"] = peer
    names = list(jobs)
    res = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if name == "girth" and r >= peer_repeats:
                continue
            t0 = time.perf_counter()
            jobs[name]()
            res[name].append(time.perf_counter() - t0)
    out = {"n_persons": n_persons, "n_items": n_items, "rounds_s": res}
    for name, vals in res.items():
        out[f"{name}_seconds"] = statistics.median(vals)
    for name in ("engine", "engine_se"):
        out[f"{name}_iterations"] = fits[name].n_iter
        out[f"{name}_rmse_a"] = rmse(fits[name].items.a, a)
        out[f"{name}_rmse_b"] = rmse(fits[name].items.b, b)
    pa, pb, n_iter = fits["plain"]
    out.update(plain_iterations=n_iter, plain_rmse_a=rmse(pa, a), plain_rmse_b=rmse(pb, b))
    if "girth" in fits:
        out["girth_rmse_a"] = rmse(fits["girth"]["Discrimination"], a)
        out["girth_rmse_b"] = rmse(fits["girth"]["Difficulty"], b)
    out["engine_peak_mb"] = peak_bytes(irt.calibrate, x, "2pl", compute_se=False) / 2**20
    out["engine_se_peak_mb"] = peak_bytes(irt.calibrate, x, "2pl") / 2**20
    out["plain_peak_mb"] = peak_bytes(plain_em_2pl, x) / 2**20
    return out


# -- 4. preparing a large bank ------------------------------------------------------


def server_bank(n, seed=4):
    """Keyword arguments of ``prepare_bank`` for an n-item SKD bank (see the module docstring)."""
    g = np.random.default_rng(seed)
    sec = np.array(SECTIONS)[np.searchsorted([0.3, 0.65], g.random(n), side="right")]
    poly = sec == "TKP"
    thresholds = np.full((n, 4), np.nan)
    thresholds[poly] = np.sort(g.normal(0.0, 1.0, (int(poly.sum()), 4)), axis=1)
    status = g.choice(["active", "pretest", "retired"], size=n, p=[0.93, 0.05, 0.02])
    return dict(
        a=g.lognormal(0, 0.3, n),
        b=np.where(poly, 0.0, g.normal(0, 1, n)),
        c=np.where(poly, 0.0, g.uniform(0, 0.25, n)),
        model=np.where(poly, "gpcm", "3pl").tolist(),
        thresholds=thresholds,
        item_id=[f"Q{j:06d}" for j in range(n)],
        section=sec.tolist(),
        enemy_group=enemy_groups(n).tolist(),
        status=status.tolist(),
    )


def bench_bank(n_items, repeats):
    """prepare_bank against plain_bank_tables: seconds (interleaved), peak and kept memory."""
    kw = server_bank(n_items)
    poly = np.array(kw["model"]) == "gpcm"
    args = (kw["a"], kw["b"], kw["c"], poly, kw["thresholds"])
    cpu = {}
    res = interleaved(
        {"engine": lambda: irt.prepare_bank(**kw), "plain": lambda: plain_bank_tables(*args)},
        repeats,
        cpu,
    )
    out = {"n_items": n_items, "n_gpcm": int(poly.sum()), "rounds_s": res, "cpu_s": cpu}
    for name, vals in res.items():
        out[f"{name}_seconds"] = statistics.median(vals)
        out[f"{name}_cpu_seconds"] = statistics.median(cpu[name])
    peak, kept = peak_bytes(irt.prepare_bank, kept=True, **kw)
    out.update(engine_peak_mb=peak / 2**20, engine_kept_mb=kept / 2**20)
    peak, kept = peak_bytes(plain_bank_tables, *args, kept=True)
    out.update(plain_peak_mb=peak / 2**20, plain_kept_mb=kept / 2**20)
    return out


# -- 5. reading a response file ------------------------------------------------------


def bench_read(n_persons, n_items, repeats, seed=5):
    """io.read_responses against numpy.loadtxt and csv + numpy.array on one CSV file."""
    import tempfile

    a, b, x = calibration_data(n_persons, n_items, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "responses.csv")
        with open(path, "w") as fh:
            fh.write(",".join(["person_id"] + [f"I{j:03d}" for j in range(n_items)]) + "\n")
            for i, row in enumerate(x):
                fh.write(f"P{i:06d}," + ",".join(map(str, row.tolist())) + "\n")
        size = os.path.getsize(path)
        got = {}

        def engine():
            got["engine"] = irt_io.read_responses(path)[2]

        def loadtxt():
            got["loadtxt"] = plain_read_loadtxt(path)

        def csv_numpy():
            got["csv"] = plain_read_csv(path)

        jobs = {"engine": engine, "loadtxt": loadtxt, "csv": csv_numpy}
        res = interleaved(jobs, repeats)
        for name in ("loadtxt", "csv"):
            assert np.array_equal(got[name], got["engine"]), name
        out = {"n_persons": n_persons, "n_items": n_items, "mb": size / 2**20, "rounds_s": res}
        for name, vals in res.items():
            out[f"{name}_seconds"] = statistics.median(vals)
        out["engine_peak_mb"] = peak_bytes(irt_io.read_responses, path) / 2**20
        out["loadtxt_peak_mb"] = peak_bytes(plain_read_loadtxt, path) / 2**20
        out["csv_peak_mb"] = peak_bytes(plain_read_csv, path) / 2**20
    return out


# -- the table -----------------------------------------------------------------------


def _fmt(v, unit):
    if v is None:
        return "-"
    if unit == "us":
        return f"{v:,.1f} µs"
    if unit == "s":
        return f"{v:.2f} s"
    return f"{v:.1f} {unit}"


def table(results):
    """Rows: what, engine, plain, peer, engine vs plain, peer vs engine."""
    rows = [("measurement", "engine", "plain numpy", "peer", "plain/engine", "peer/engine")]
    for r in results.get("step", []):
        n = f"{r['n_items']:,}"
        plain, peer = r["plain_us"], r.get("catsim_us")
        for name, label in (
            ("engine", "no rules"),
            ("engine_randomesque", "randomesque only"),
            ("engine_rules", "rules"),
        ):
            e = r[f"{name}_us"]
            rows.append(
                (
                    f"CAT step, {n} items, {label}",
                    _fmt(e, "us"),
                    _fmt(plain, "us"),
                    _fmt(peer, "us") + (" catsim" if peer else ""),
                    f"{plain / e:.2f}x",
                    f"{peer / e:.0f}x" if peer else "-",
                )
            )
    s = results.get("simulation")
    if s:
        e, p, c = s["engine_seconds"], s["plain_seconds"], s.get("catsim_seconds")
        rows.append(
            (
                f"simulate {s['n_examinees']:,} x {s['length']}, {s['n_items']} items",
                _fmt(e, "s"),
                _fmt(p, "s"),
                _fmt(c, "s") + (" catsim" if c else ""),
                f"{p / e:.2f}x",
                f"{c / e:.0f}x" if c else "-",
            )
        )
        rows.append(
            (
                "  RMSE (EAP; catsim: MLE)",
                f"{s['engine_rmse']:.3f}",
                f"{s['plain_rmse']:.3f}",
                f"{s['catsim_rmse']:.3f}" if c else "-",
                "",
                "",
            )
        )
        rows.append(
            (
                "  RMSE, final score by MLE",
                f"{s['engine_mle_rmse']:.3f}",
                "-",
                f"{s['catsim_rmse']:.3f}" if c else "-",
                "",
                "",
            )
        )
    big = results.get("simulation_large")
    if big:
        rows.append(
            (
                f"simulate {big['n_examinees']:,} x {LENGTH}, one call",
                _fmt(big["seconds"], "s"),
                "-",
                "-",
                f"peak {big['peak_mb']:.0f} MB",
                "",
            )
        )
    k = results.get("calibration")
    if k:
        size = f"{k['n_persons']:,} x {k['n_items']}"
        p, g = k["plain_seconds"], k.get("girth_seconds")
        for name, label in (("engine", "no SEs"), ("engine_se", "with SEs + fit")):
            e = k[f"{name}_seconds"]
            rows.append(
                (
                    f"2PL MML {size}, {label}",
                    _fmt(e, "s"),
                    _fmt(p, "s"),
                    _fmt(g, "s") + (" girth" if g else ""),
                    f"{p / e:.2f}x",
                    f"{g / e:.0f}x" if g else "-",
                )
            )
        rows.append(
            (
                "  EM iterations",
                str(k["engine_iterations"]),
                str(k["plain_iterations"]),
                "",
                "",
                "",
            )
        )
        rows.append(
            (
                "  RMSE a / b",
                f"{k['engine_rmse_a']:.4f} / {k['engine_rmse_b']:.4f}",
                f"{k['plain_rmse_a']:.4f} / {k['plain_rmse_b']:.4f}",
                f"{k['girth_rmse_a']:.4f} / {k['girth_rmse_b']:.4f}" if g else "-",
                "",
                "",
            )
        )
        rows.append(
            (
                "  peak memory (no SEs / SEs)",
                f"{k['engine_peak_mb']:.0f} / {k['engine_se_peak_mb']:.0f} MB",
                f"{k['plain_peak_mb']:.0f} MB",
                "",
                "",
                "",
            )
        )
    k = results.get("bank")
    if k:
        e, p = k["engine_seconds"], k["plain_seconds"]
        rows.append(
            (
                f"prepare_bank {k['n_items']:,} items ({k['n_gpcm']:,} GPCM)",
                _fmt(e, "s"),
                _fmt(p, "s") + " tables",
                "-",
                f"{p / e:.2f}x",
                "",
            )
        )
        rows.append(
            (
                "  CPU time",
                _fmt(k["engine_cpu_seconds"], "s"),
                _fmt(k["plain_cpu_seconds"], "s"),
                "",
                "",
                "",
            )
        )
        rows.append(
            (
                "  peak / kept memory",
                f"{k['engine_peak_mb']:.0f} / {k['engine_kept_mb']:.0f} MB",
                f"{k['plain_peak_mb']:.0f} / {k['plain_kept_mb']:.0f} MB",
                "",
                "",
                "",
            )
        )
    k = results.get("read")
    if k:
        e, p, c = k["engine_seconds"], k["loadtxt_seconds"], k["csv_seconds"]
        rows.append(
            (
                f"read responses {k['n_persons']:,} x {k['n_items']} ({k['mb']:.1f} MB)",
                _fmt(e, "s"),
                _fmt(p, "s") + " loadtxt",
                _fmt(c, "s") + " csv+numpy",
                f"{p / e:.2f}x",
                f"{c / e:.2f}x",
            )
        )
        rows.append(
            (
                "  peak memory",
                f"{k['engine_peak_mb']:.0f} MB",
                f"{k['loadtxt_peak_mb']:.0f} MB",
                f"{k['csv_peak_mb']:.0f} MB",
                "",
                "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def _version(name):
    from importlib.metadata import version

    return version(name)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved rounds (median)")
    ap.add_argument("--peer-repeats", type=int, default=None, help="rounds the peers run in")
    ap.add_argument(
        "--only",
        default="step,simulation,calibration,bank,read",
        help="comma-separated parts to run",
    )
    ap.add_argument("--json", default=None, help="write the results to this file")
    args = ap.parse_args(argv)
    q = args.quick
    parts = set(args.only.split(","))
    repeats = 1 if q else args.repeats
    results = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "catsim": _version("catsim") if catsim else None,
            "girth": _version("girth") if girth else None,
            "blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
            "load_average_start": os.getloadavg(),
        },
    }
    if "step" in parts:
        results["step"] = []
        for n, tests in ((500, 40), (1000, 40), (10000, 20)):
            peer_tests = 2 if n == 10000 else 8
            pr = args.peer_repeats if args.peer_repeats is not None else 3
            r = bench_step(n, 4 if q else tests, repeats, 1 if q else peer_tests, pr)
            results["step"].append(r)
            print(
                f"step {n}: "
                + ", ".join(f"{k} {v:.1f}" for k, v in r.items() if k.endswith("_us")),
                flush=True,
            )
    if "simulation" in parts:
        pr = args.peer_repeats if args.peer_repeats is not None else 1
        results["simulation"] = r = bench_simulation(100 if q else 1000, repeats, pr)
        print(f"simulation: {r}", flush=True)
        results["simulation_large"] = r = bench_simulation_large(2000 if q else 100_000)
        print(f"simulation, one call: {r}", flush=True)
    if "calibration" in parts:
        pr = args.peer_repeats if args.peer_repeats is not None else 1
        size = (2000, 30) if q else (20000, 100)
        results["calibration"] = r = bench_calibration(*size, min(repeats, 3), pr)
        print(
            "calibration: " + ", ".join(f"{k} {v}" for k, v in r.items() if k != "rounds_s"),
            flush=True,
        )
    if "bank" in parts:
        results["bank"] = r = bench_bank(2000 if q else 100_000, repeats)
        print(
            "bank: "
            + ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("rounds_s", "cpu_s")),
            flush=True,
        )
    if "read" in parts:
        size = (2000, 30) if q else (20000, 100)
        results["read"] = r = bench_read(*size, repeats)
        print("read: " + ", ".join(f"{k} {v}" for k, v in r.items() if k != "rounds_s"), flush=True)
    results["machine"]["load_average_end"] = os.getloadavg()
    print()
    print(table(results))
    print(
        f"\nload average at start {results['machine']['load_average_start']}, at end "
        f"{results['machine']['load_average_end']} on {os.cpu_count()} CPUs"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
