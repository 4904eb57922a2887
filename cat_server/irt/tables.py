r"""The tables of :func:`~cat_server.irt.bank.prepare_bank`, fast enough for 100,000 items.

Evaluating the model functions of :mod:`.models` on a ``(321, n_items, K)``
array costs a dozen passes over memory per operation and, for GPCM items,
reductions over a short last axis (numpy is slow at those). Here the two
tables are built *a grid row at a time* over all items of one model, with
per-item constants worked out once:

* dichotomous items: with :math:`e = \exp(-Da(\theta - b))`,
  :math:`P = (d + ce) / (1 + e)`, :math:`1 - P = (1 - d + (1 - c)e) / (1 + e)`
  and :math:`I = (Da(d - c))^2 e^2 / ((1 + e)^2 (d + ce)(1 - d + (1 - c)e))`
  (no cancellation in :math:`1 - P`);
* GPCM items: :math:`P_k \propto G_k W^k` with :math:`W = e^{Da(\theta -
  \theta_c)}` and :math:`G_k = e^{-Da \sum_{v \le k}(b_v - \theta_c)}`
  (:math:`\theta_c` the mean of the item's steps), so :math:`\sum_k G_k W^k`,
  :math:`\sum_k k G_k W^k` and :math:`\sum_k k^2 G_k W^k` are three
  polynomials in :math:`W` (Horner) and :math:`I = D^2a^2 \operatorname{Var}(X)`.

On the evenly spaced information grid :math:`e` and :math:`W` move by a
constant factor per row, so a row costs multiplications, not ``exp``. Items
whose exponents could leave float64's range on the grid (``|Da(θ − b)|``
above 600: absurd parameters) and GRM items go through :meth:`Items.log_probs`
/ :meth:`Items.info` instead, a block of items at a time.
"""

from __future__ import annotations

import numpy as np

from .models import DICHOTOMOUS, GPCM

_LOG_FLOOR = np.log(1e-300)  # Items.log_probs floors P at 1e-300
_SAFE = 600.0
_BLOCK = 2048


def _dichotomous(items, sel, grid):
    """Per-item constants and the safe subset of dichotomous items ``sel``."""
    Da = items.D * items.a[sel]
    b, c, d = items.b[sel], items.c[sel], items.d[sel]
    reach = Da * np.maximum(np.abs(grid[0] - b), np.abs(grid[-1] - b))
    return Da, b, c, d, reach <= _SAFE


def _gpcm(items, sel, grid):
    """Per-item constants of GPCM items ``sel``: Da, centre, G_k (0 for unused categories)."""
    Da = items.D * items.a[sel]
    m = int(items.n_cat[sel].max()) - 1 if sel.size else 0
    thr = items.thresholds[sel, :m]
    centre = np.nanmean(thr, axis=1)
    steps = np.nan_to_num(thr - centre[:, None])
    logG = np.zeros((sel.size, m + 1))
    logG[:, 1:] = -Da[:, None] * np.cumsum(steps, axis=1)
    logG[:, 1:][np.isnan(thr)] = -np.inf
    reach = Da * np.maximum(np.abs(grid[0] - centre), np.abs(grid[-1] - centre))
    safe = (reach * m + np.abs(np.where(np.isfinite(logG), logG, 0.0)).max(axis=1)) <= _SAFE
    return Da, centre, logG, safe


def _horner(G, kG, k2G, W, only_s0=False):
    """``sum_k G_k W^k`` (and with weights ``k``, ``k^2``); ``G`` etc. of shape (m + 1, n)."""
    m = G.shape[0] - 1
    s0 = G[m].copy()
    s1 = None if only_s0 else kG[m].copy()
    s2 = None if only_s0 else k2G[m].copy()
    for k in range(m - 1, -1, -1):
        s0 *= W
        s0 += G[k]
        if not only_s0:
            s1 *= W
            s2 *= W
            if k:
                s1 += kG[k]
                s2 += k2G[k]
    return s0, s1, s2


def _powers(logG):
    G = np.ascontiguousarray(np.exp(logG).T)  # (m + 1, n)
    k = np.arange(G.shape[0])[:, None]
    return G, k * G, k * k * G


def log_rows(items, grid):
    r"""``log P`` of every item and category on ``grid``: shape (sum of n_cat, len(grid)).

    Item ``j``'s category ``k`` is row ``row0[j] + k``; returns ``(table, row0)``.
    Dichotomous rows repeat :meth:`Items.log_probs`' arithmetic (the same
    numbers to the last bit); GPCM rows agree with it to about 1e-15.
    """
    n = items.n_items
    row0 = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(items.n_cat, out=row0[1:])
    out = np.empty((int(row0[-1]), grid.size))
    dich = np.flatnonzero(items.model == DICHOTOMOUS)
    gpcm = np.flatnonzero(items.model == GPCM)
    rest = np.ones(n, dtype=bool)
    rest[dich] = False
    for lo in range(0, dich.size, _BLOCK):
        sel = dich[lo : lo + _BLOCK]
        Da, b, c, d = items.D * items.a[sel], items.b[sel], items.c[sel], items.d[sel]
        z = Da[:, None] * (grid[None, :] - b[:, None])
        s = 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))
        p = c[:, None] + (d - c)[:, None] * s
        out[row0[sel] + 1] = np.log(np.maximum(p, 1e-300))
        out[row0[sel]] = np.log(np.maximum(1.0 - p, 1e-300))
    if gpcm.size:
        Da, centre, logG, safe = _gpcm(items, gpcm, grid)
        rest[gpcm[safe]] = False
        gpcm, Da, centre, logG = gpcm[safe], Da[safe], centre[safe], logG[safe]
    for lo in range(0, gpcm.size, _BLOCK):
        part = slice(lo, lo + _BLOCK)
        sel, lg = gpcm[part], logG[part]
        G, kG, k2G = _powers(lg)
        x = (grid[:, None] - centre[None, part]) * Da[None, part]  # log W, (Q, block)
        lse = np.empty_like(x)
        for q in range(grid.size):
            lse[q] = np.log(_horner(G, kG, k2G, np.exp(x[q]), only_s0=True)[0])
        for k in range(lg.shape[1]):
            used = np.isfinite(lg[:, k])
            rows = (lg[None, :, k] + k * x - lse).T
            out[row0[sel[used]] + k] = rows[used]
    for lo in range(0, n, _BLOCK):  # GRM, and GPCM items out of the safe range
        idx = np.flatnonzero(rest[lo : lo + _BLOCK]) + lo
        if idx.size:
            lp = items.subset(idx).log_probs(grid).transpose(1, 2, 0)
            used = np.arange(lp.shape[1]) < items.n_cat[idx, None]
            out[(row0[idx, None] + np.arange(lp.shape[1]))[used]] = lp[used]
    np.maximum(out, _LOG_FLOOR, out=out)
    return out, row0[:-1]


def info_table(items, grid, columns):
    r"""Float32 information table, shape (len(grid), n_items); item ``j`` in column ``columns[j]``.

    ``grid`` must be evenly spaced. A row is computed model by model into a
    buffer (dichotomous items, then GPCM, then the others) and gathered into
    the table's column order.
    """
    n = items.n_items
    out = np.empty((grid.size, n), dtype=np.float32)
    h = grid[1] - grid[0] if grid.size > 1 else 0.0
    parts = []  # (items, row function, value, factor per row)
    sel = np.flatnonzero(items.model == DICHOTOMOUS)
    if sel.size:
        Da, b, c, d, safe = _dichotomous(items, sel, grid)
        sel, Da, b, c, d = sel[safe], Da[safe], b[safe], c[safe], d[safe]
        plain = bool((d == 1.0).all())
        # 3PL (d = 1): I = (Da)^2 (1 - c) e / ((1 + e)^2 (1 + ce))
        K = Da * Da * (1.0 - c) if plain else (Da * (d - c)) ** 2
        one_c, one_d = 1.0 - c, 1.0 - d

        def dich_row(e, out, den, q):
            np.add(e, 1.0, out=den)
            den *= den
            np.multiply(e, c, out=q)
            q += d
            den *= q
            if plain:
                np.multiply(e, K, out=out)
            else:
                np.multiply(e, one_c, out=q)
                q += one_d
                den *= q
                np.multiply(e, e, out=out)
                out *= K
            out /= den

        parts.append((sel, dich_row, np.exp(-Da * (grid[0] - b)), np.exp(-Da * h)))
    sel = np.flatnonzero(items.model == GPCM)
    if sel.size:
        Da, centre, logG, safe = _gpcm(items, sel, grid)
        sel, Da, centre, logG = sel[safe], Da[safe], centre[safe], logG[safe]
        G, kG, k2G = _powers(logG)
        D2a2 = Da * Da

        def gpcm_row(W, out, den, q):
            s0, s1, s2 = _horner(G, kG, k2G, W)
            s1 /= s0
            s2 /= s0
            s1 *= s1
            np.subtract(s2, s1, out=out)
            np.maximum(out, 0.0, out=out)
            out *= D2a2

        parts.append((sel, gpcm_row, np.exp(Da * (grid[0] - centre)), np.exp(Da * h)))
    done = np.zeros(n, dtype=bool)
    for sel, *_ in parts:
        done[sel] = True
    rest = np.flatnonzero(~done)  # GRM, and items out of the safe range
    rest_table = np.empty((grid.size, rest.size), dtype=np.float32)
    for lo in range(0, rest.size, _BLOCK // 8):  # (rows, block, categories) temporaries
        part = rest[lo : lo + _BLOCK // 8]
        rest_table[:, lo : lo + part.size] = items.subset(part).info(grid)
    # buffer position of each table column
    buf_of = np.empty(n, dtype=np.int64)
    start = 0
    for sel in [p[0] for p in parts] + [rest]:
        buf_of[columns[sel]] = np.arange(start, start + sel.size)
        start += sel.size
    buf = np.empty(n, dtype=np.float32)  # each row function ends by writing float32
    state = [
        (sel, fn, v.copy(), f, np.empty(sel.size), np.empty(sel.size)) for sel, fn, v, f in parts
    ]
    for r in range(grid.size):
        start = 0
        for sel, fn, v, f, den, q in state:
            if r:
                v *= f
            fn(v, buf[start : start + sel.size], den, q)
            start += sel.size
        buf[start:] = rest_table[r]
        np.take(buf, buf_of, out=out[r])
    return out
