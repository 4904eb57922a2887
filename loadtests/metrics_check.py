"""Scrape the server's ``/metrics`` during a scenario, as Prometheus would (issue 23).

``python -m loadtests.scenarios peak`` scrapes every half second while the
seats answer; afterwards the scrapes, interpolated to the simulator's start and
end of the answering window, give answers per second (the counter's rate, as
``rate()``) and p50 / p99 (the histogram's buckets over that window,
interpolated as ``histogram_quantile`` does), set beside the simulator's own
figures, with ``agree_within_10pct`` for both.
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


def at(scrapes: list[tuple[float, dict]], t: float) -> dict:
    """The counter and buckets at time ``t``, linear between the two scrapes around it.

    The nearest scrape would be up to half a scrape interval off at each end
    of the window: 5 % of the answers of a 20 s run.
    """
    before = [s for s in scrapes if s[0] <= t] or scrapes[:1]
    after = [s for s in scrapes if s[0] >= t] or scrapes[-1:]
    (t0, a), (t1, b) = before[-1], after[0]
    w = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)

    def mix(x, y):
        return x + w * (y - x)

    return {
        "answers": mix(a["answers"], b["answers"]),
        "buckets": {k: mix(a["buckets"].get(k, 0.0), v) for k, v in b["buckets"].items()},
    }


def compare(scrapes: list[tuple[float, dict]], report: dict) -> dict:
    """``/metrics`` over the simulator's answering window, beside the simulator's figures."""
    # every answer the simulator counted: sent from t_go, acknowledged by its last ack
    # (those sent just before t_end come after it); its rate is per answering window
    t_go, t_end = report["t_go"], max(report["t_end"], report.get("t_last_ack") or 0)
    first, last = at(scrapes, t_go - 0.05), at(scrapes, t_end + 0.05)
    rate = (last["answers"] - first["answers"]) / max(report["t_end"] - report["t_go"], 1e-9)
    p50 = 1000 * quantile(0.50, first["buckets"], last["buckets"])
    p99 = 1000 * quantile(0.99, first["buckets"], last["buckets"])
    rate_ratio = rate / report["answers_per_s"] if report["answers_per_s"] else float("nan")
    p99_ratio = p99 / report["p99_ms"] if report["p99_ms"] else float("nan")
    wire = report.get("wire_p99_ms")
    wire_ratio = p99 / wire if wire else float("nan")
    return {
        "window_s": round(t_end - t_go, 2),
        "scrapes": len(scrapes),
        "answers_per_s": round(rate, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "answers_per_s_vs_simulator": round(rate_ratio, 3),
        "p99_vs_simulator": round(p99_ratio, 3),
        # the same, against the simulator's frame-to-frame time (its own loop left out)
        "p99_vs_simulator_wire": round(wire_ratio, 3),
        # the acceptance: both within 10 % of the simulator's
        "agree_within_10pct": abs(rate_ratio - 1) <= 0.10 and abs(p99_ratio - 1) <= 0.10,
        "agree_within_10pct_wire": abs(rate_ratio - 1) <= 0.10 and abs(wire_ratio - 1) <= 0.10,
    }


def watch(url: str, _sitting, every_s: float = 0.5):
    """Scrape every ``every_s`` in a thread; return what compares the scrapes with the report."""
    scrapes: list[tuple[float, dict]] = []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                t = time.time()
                body = scrape(url)
                # the scrape's values are those of the moment the server read them:
                # halfway through the request on a loaded box
                scrapes.append(((t + time.time()) / 2, body))
            except requests.RequestException:
                pass
            stop.wait(every_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def finish(report: dict) -> dict:
        time.sleep(every_s + 0.5)  # one scrape after the window's end to interpolate to
        stop.set()
        thread.join(5)
        return {"metrics": compare(scrapes, report)}

    return finish
