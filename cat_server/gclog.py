"""``CAT_GC_LOG=1``: log how long the garbage collector stops the event loop.

Every collection of the older generations (and any young one over 5 ms) is
printed to stderr with its duration and what it freed; ``kill -USR2 <worker>``
prints what a full collection would free right now, by type. Used to find the
pauses behind the answer latency tail (docs/PERFORMANCE.md, "garbage-collector
pauses"); off in production.
"""

from __future__ import annotations

import collections
import gc
import signal
import sys
import time


def install() -> None:
    started = [0.0]

    def timed(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if info["generation"] >= 1 or ms > 5:
            print(
                f"GC gen{info['generation']} {ms:.1f} ms collected={info['collected']} "
                f"at={time.time():.3f}",
                file=sys.stderr,
                flush=True,
            )

    def garbage_by_type(*_args):
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            kinds = collections.Counter(
                f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage
            )
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        print(f"GC garbage {sum(kinds.values())} objects", file=sys.stderr)
        for kind, n in kinds.most_common(30):
            print(f"GC garbage {n:7d} {kind}", file=sys.stderr, flush=True)

    gc.callbacks.append(timed)
    signal.signal(signal.SIGUSR2, garbage_by_type)
