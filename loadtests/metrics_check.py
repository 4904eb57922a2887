"""Scrape the server's ``/metrics`` during a scenario, as Prometheus would (issue 23).

``python -m loadtests.scenarios peak`` scrapes every second while the seats
answer; afterwards the scrapes nearest the simulator's start and end of the
answering window give answers per second (the counter's rate, as ``rate()``)
and p50 / p99 (the histogram's buckets over that window, interpolated as
``histogram_quantile`` does), set beside the simulator's own figures.
"""

from __future__ import annotations

import threading
import time

import requests
from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str) -> dict:
    """One scrape: the answers counter and the ack histogram's cumulative buckets."""
    text = requests.get(f"{url}/metrics", timeout=5).text
    counts, buckets = 0.0, {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "cat_answers_total":
                counts = s.value
            elif s.name == "cat_answer_ack_seconds_bucket":
                buckets[float(s.labels["le"])] = s.value
    return {"answers": counts, "buckets": buckets}


def quantile(q: float, before: dict, after: dict) -> float:
    """``histogram_quantile(q, increase(...))`` over two scrapes, in seconds."""
    bounds = sorted(after)
    cumulative = [after[b] - before.get(b, 0.0) for b in bounds]
    total = cumulative[-1]
    if total <= 0:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in zip(bounds, cumulative, strict=True):
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def watch(url: str, _sitting):
    """Scrape every second in a thread; return what compares the scrapes with the report."""
    scrapes: list[tuple[float, dict]] = []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                scrapes.append((time.time(), scrape(url)))
            except requests.RequestException:
                pass
            stop.wait(1.0)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def finish(report: dict) -> dict:
        stop.set()
        thread.join(5)

        def nearest(t):
            return min(scrapes, key=lambda s: abs(s[0] - t))

        (t0, first), (t1, last) = nearest(report["t_go"]), nearest(report["t_end"])
        rate = (last["answers"] - first["answers"]) / max(t1 - t0, 1e-9)
        p50 = 1000 * quantile(0.50, first["buckets"], last["buckets"])
        p99 = 1000 * quantile(0.99, first["buckets"], last["buckets"])
        return {
            "metrics": {
                "window_s": round(t1 - t0, 1),
                "answers_per_s": round(rate, 1),
                "p50_ms": round(p50, 2),
                "p99_ms": round(p99, 2),
                "answers_per_s_vs_simulator": round(rate / report["answers_per_s"], 3),
                "p99_vs_simulator": round(p99 / report["p99_ms"], 3),
            }
        }

    return finish
