"""Benchmarks of the IRT engine against catsim and girth, side by side in one run.

    .venv/bin/pip install -e '.[bench]'        # catsim==0.21.0, girth==0.8.0
    .venv/bin/python -m benchmarks.engine --json bench-engine.json

Three measurements (each peer part is skipped with a note if the peer is not
installed):

1. one CAT step (answer recorded + EAP posterior update + selection with
   randomesque exposure control and content balancing) on 1,000- and
   10,000-item 3PL banks, against catsim's step (its estimator + its
   randomesque selector; catsim has no content balancing);
2. 1,000 simulated candidates x 30 items on a 500-item bank, maximum
   information selection, against catsim's Simulator (same bank, same true
   abilities), with the RMSE of both;
3. 2PL calibration of a 20,000 x 100 response matrix against girth's
   ``twopl_mml``: seconds and parameter RMSE against the generating values.

``--quick`` uses smaller sizes (a smoke test, not the published figures).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

from cat_server import irt

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


def make_bank_arrays(n, seed):
    g = np.random.default_rng(seed)
    return g.lognormal(0, 0.3, n), g.normal(0, 1, n), g.uniform(0, 0.25, n)


def bench_step(n_items, n_tests, catsim_steps, seed=0):
    """Median microseconds of one step, ours and catsim's."""
    a, b, c = make_bank_arrays(n_items, seed)
    section = np.array(SECTIONS)[np.arange(n_items) % 3]
    bank = irt.prepare_bank(a, b, c, section=section)
    cfg = irt.CatConfig(max_length=30, exposure="randomesque", randomesque_k=5, content=CONTENT)
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(n_tests):
        theta = rng.normal()
        state = irt.CatState.new(bank)
        res = irt.step(bank, state, cfg, rng)
        while res.item is not None:
            j = res.item
            score = int(rng.random() < c[j] + (1 - c[j]) / (1 + np.exp(-a[j] * (theta - b[j]))))
            t0 = time.perf_counter()
            state.record(bank, j, score)
            res = irt.step(bank, state, cfg, rng)
            times.append(time.perf_counter() - t0)
    out = {
        "n_items": n_items,
        "ours_us": statistics.median(times) * 1e6,
        "ours_p95_us": float(np.percentile(times, 95) * 1e6),
        "ours_steps": len(times),
    }
    if catsim is not None:
        ib = ItemBank(np.column_stack([a, b, c, np.ones(n_items)]))
        est = NumericalSearchEstimator()
        sel = RandomesqueSelector(5)
        crng = np.random.default_rng(seed)
        ctimes = []
        administered, responses, theta_hat = [], [], 0.0
        true_theta = 0.3
        for _ in range(catsim_steps):
            t0 = time.perf_counter()
            j = int(
                sel.select(
                    item_bank=ib, administered_items=administered, est_theta=theta_hat, rng=crng
                )
            )
            ctimes.append(time.perf_counter() - t0)
            administered.append(j)
            responses.append(
                bool(crng.random() < catsim.irt.icc(true_theta, a[j], b[j], c[j], 1.0))
            )
            t0 = time.perf_counter()
            theta_hat = est.estimate(
                item_bank=ib,
                administered_items=administered,
                response_vector=responses,
                est_theta=theta_hat,
            )
            ctimes[-1] += time.perf_counter() - t0
            if len(administered) == 30:
                administered, responses, theta_hat = [], [], 0.0
        out["catsim_us"] = statistics.median(ctimes) * 1e6
        out["catsim_steps"] = len(ctimes)
        out["speedup"] = out["catsim_us"] / out["ours_us"]
    return out


def bench_simulation(n_examinees, n_items=500, length=30, seed=1):
    """Seconds and RMSE for n_examinees x length on an n_items bank."""
    a, b, c = make_bank_arrays(n_items, seed)
    theta = np.random.default_rng(seed).normal(size=n_examinees)
    bank = irt.prepare_bank(a, b, c)
    cfg = irt.CatConfig(max_length=length)
    t0 = time.perf_counter()
    ours = irt.simulate_cat(bank, cfg, theta, np.random.default_rng(seed))
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours_mle = irt.simulate_cat(
        bank, cfg, theta, np.random.default_rng(seed), final_estimator="mle"
    )
    t_ours_mle = time.perf_counter() - t0
    out = {
        "n_examinees": n_examinees,
        "n_items": n_items,
        "length": length,
        "ours_seconds": t_ours,
        "ours_rmse": ours["rmse"],
        "ours_mle_seconds": t_ours_mle,
        "ours_mle_rmse": ours_mle["rmse"],
    }
    if catsim is not None:
        sim = Simulator(ItemBank(np.column_stack([a, b, c, np.ones(n_items)])), theta, seed=seed)
        t0 = time.perf_counter()
        sim.simulate(
            FixedPointInitializer(0.0),
            MaxInfoSelector(),
            NumericalSearchEstimator(),
            TestLengthStopper(max_items=length),
        )
        out["catsim_seconds"] = time.perf_counter() - t0
        out["catsim_rmse"] = float(sim.rmse)
        out["speedup"] = out["catsim_seconds"] / out["ours_seconds"]
    return out


def bench_calibration(n_persons, n_items, seed=2):
    g = np.random.default_rng(seed)
    a = g.lognormal(0, 0.25, n_items)
    b = g.normal(0, 1, n_items)
    x = irt.simulate_responses(g.normal(size=n_persons), irt.make_items(a, b), g)

    def rmse(u, v):
        return float(np.sqrt(np.mean((np.asarray(u) - v) ** 2)))

    t0 = time.perf_counter()
    res = irt.calibrate(x, "2pl")
    out = {
        "n_persons": n_persons,
        "n_items": n_items,
        "ours_seconds": time.perf_counter() - t0,
        "ours_iterations": res.n_iter,
        "ours_rmse_a": rmse(res.items.a, a),
        "ours_rmse_b": rmse(res.items.b, b),
    }
    t0 = time.perf_counter()
    irt.calibrate(x, "2pl", compute_se=False)
    out["ours_seconds_without_se"] = time.perf_counter() - t0
    if girth is not None:
        t0 = time.perf_counter()
        peer = girth.twopl_mml(x.T.astype(int))
        out["girth_seconds"] = time.perf_counter() - t0
        out["girth_rmse_a"] = rmse(peer["Discrimination"], a)
        out["girth_rmse_b"] = rmse(peer["Difficulty"], b)
        out["speedup"] = out["girth_seconds"] / out["ours_seconds"]
    return out


def _version(name):
    from importlib.metadata import version

    return version(name)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--json", default=None, help="write the results to this file")
    args = ap.parse_args(argv)
    q = args.quick
    results = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "processor": platform.processor() or platform.machine(),
            "catsim": _version("catsim") if catsim else None,
            "girth": _version("girth") if girth else None,
        },
        "step": [],
    }
    print("== one CAT step: record + EAP update + randomesque(5) + content balancing ==")
    for n, tests, csteps in (
        (1000, 20 if q else 200, 30 if q else 300),
        (10000, 10 if q else 100, 10 if q else 60),
    ):
        r = bench_step(n, tests, csteps)
        results["step"].append(r)
        line = f"{n:>6} items: ours {r['ours_us']:8.1f} us (p95 {r['ours_p95_us']:.1f})"
        if "catsim_us" in r:
            line += f" | catsim {r['catsim_us']:10.1f} us | {r['speedup']:.0f}x"
        print(line, flush=True)

    print("== simulation: candidates x 30 items, 500-item bank, max information ==")
    r = bench_simulation(100 if q else 1000)
    results["simulation"] = r
    line = (
        f"{r['n_examinees']} x {r['length']}: ours {r['ours_seconds']:.2f} s rmse {r['ours_rmse']:.3f}"
        f" (MLE final {r['ours_mle_rmse']:.3f})"
    )
    if "catsim_seconds" in r:
        line += f" | catsim {r['catsim_seconds']:.2f} s rmse {r['catsim_rmse']:.3f} | {r['speedup']:.0f}x"
    print(line, flush=True)

    print("== 2PL calibration ==")
    r = bench_calibration(*((2000, 30) if q else (20000, 100)))
    results["calibration"] = r
    line = (
        f"{r['n_persons']} x {r['n_items']}: ours {r['ours_seconds']:.2f} s ({r['ours_iterations']} EM it.)"
        f" rmse a {r['ours_rmse_a']:.4f} b {r['ours_rmse_b']:.4f}"
    )
    if "girth_seconds" in r:
        line += (
            f" | girth {r['girth_seconds']:.2f} s rmse a {r['girth_rmse_a']:.4f} b {r['girth_rmse_b']:.4f}"
            f" | {r['speedup']:.1f}x"
        )
    print(line, flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
