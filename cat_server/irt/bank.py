r"""A prepared item bank: parameter arrays plus the tables the hot path reads.

:func:`prepare_bank` is called once per process (per bank). It evaluates every
item once on two fixed ability grids so that one CAT step only indexes and
adds rows:

* ``log_rows[log_row0[j] + k, q]``: :math:`\log P_{jk}(\theta_q)` on the
  quadrature grid used for the posterior (EAP), one row per item and score
  category (no padding: a 2-category item takes two rows beside a 5-category
  one), in float64 so that scores do not depend on how the table is stored;
* ``info_table[g, j]``: Fisher information on a finer grid, interpolated
  linearly at the current ability for maximum-information selection. It is
  stored in float32: it only ranks items, and at 100,000 items it is the
  largest table (321 x 100,000: 128 MB instead of 257 MB).

Both tables are filled a block of items at a time, so the temporaries of the
model functions stay a few MB whatever the size of the bank.

For selection the items are kept internally in *section order* (``order``:
internal position to bank index, ``position``: the inverse), so the items of a
blueprint section are one contiguous slice of the information table and of a
state's blocked-items vector: restricting a step to one section is slicing,
not masking. Bank indices are what every public function takes and returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import tables
from .models import Items, make_items

ACTIVE, PRETEST, RETIRED = 0, 1, 2
STATUS_CODES = {"active": ACTIVE, "operational": ACTIVE, "pretest": PRETEST, "retired": RETIRED}


@dataclass(frozen=True, eq=False)
class Bank:
    r"""Item bank prepared for adaptive testing (build with :func:`prepare_bank`).

    Attributes
    ----------
    items : Items
        Parameter arrays.
    item_id : ndarray of str, shape (n_items,)
    section : ndarray of int, shape (n_items,)
        Index into ``section_names``.
    section_names : tuple of str
    section_masks : ndarray of bool, shape (n_sections, n_items)
    enemy : ndarray of int, shape (n_items,)
        Enemy-group index, ``-1`` for none.
    enemy_members : dict of int to ndarray of int
        Items in each enemy group.
    status : ndarray of int8, shape (n_items,)
        ``ACTIVE`` (0), ``PRETEST`` (1) or ``RETIRED`` (2).
    grid : ndarray of shape (n_quad,)
        Quadrature points of the posterior.
    log_rows : ndarray of shape (sum of n_cat, n_quad)
        :math:`\log P_{jk}` on ``grid``: item ``j``'s category ``k`` is row
        ``log_row0[j] + k``.
    log_row0 : ndarray of int, shape (n_items,)
        First row of each item in ``log_rows``.
    log_p : ndarray of shape (n_items, max_cat, n_quad)
        A padded copy of ``log_rows`` (a property, built when asked for).
    info_grid : ndarray of shape (n_info,)
        Evenly spaced abilities of ``info_table``.
    info_table : ndarray of shape (n_info, n_items)
        Bank order (a property; selection reads ``info_sorted``).
    info_sorted : ndarray of float32, shape (n_info, n_items)
        The same table with its columns in section order (``order``).
    info_quad : ndarray of shape (n_quad, n_items)
        Information on ``grid`` (posterior-weighted selection; a property,
        computed on first use and cached).
    order : ndarray of int, shape (n_items,)
        Bank index of each internal (section-ordered) position.
    position : ndarray of int, shape (n_items,)
        Internal position of each bank item (inverse of ``order``).
    section_bounds : tuple of (int, int)
        Internal slice ``[start, stop)`` of each section.
    moments : ndarray of shape (n_quad, 3)
        Columns ``1, theta, theta**2`` of the grid: posterior moments in one product.
    blocked : ndarray of float32, shape (n_items,)
        ``0`` for active items, ``-inf`` for the others, in internal order: the
        start of every state's blocked-items vector.
    lists : dict
        Per-item codes as Python lists (``n_cat``, ``status``, ``enemy``,
        ``section``, ``position``, ``order``, ``log_row0``) and each enemy group's internal
        positions, for the scalar look-ups of one answer.
    cache : dict
        Per-bank cache of :meth:`log_prior` vectors and parsed content rules.
    """

    items: Items
    item_id: np.ndarray
    section: np.ndarray
    section_names: tuple
    section_masks: np.ndarray
    enemy: np.ndarray
    enemy_members: dict
    status: np.ndarray
    grid: np.ndarray
    log_rows: np.ndarray = field(repr=False)
    log_row0: np.ndarray = field(repr=False)
    info_grid: np.ndarray = field(repr=False)
    info_sorted: np.ndarray = field(repr=False)
    operational: np.ndarray = field(repr=False)
    pretest: np.ndarray = field(repr=False)
    index: dict = field(repr=False)
    order: np.ndarray = field(repr=False)
    position: np.ndarray = field(repr=False)
    section_bounds: tuple = field(repr=False)
    moments: np.ndarray = field(repr=False)
    blocked: np.ndarray = field(repr=False)
    lists: dict = field(repr=False)
    cache: dict = field(repr=False, default_factory=dict)

    @property
    def n_items(self):
        return self.items.n_items

    @property
    def log_p(self):
        """``log P`` padded to shape (n_items, max_cat, n_quad) (a copy; the engine reads ``log_rows``)."""
        K = self.items.max_cat
        k = np.minimum(np.arange(K), self.items.n_cat[:, None] - 1)
        out = self.log_rows[self.log_row0[:, None] + k]
        out[np.arange(K) >= self.items.n_cat[:, None]] = np.log(1e-300)
        return out

    @property
    def info_quad(self):
        """Information on ``grid``, shape (n_quad, n_items) (computed on first use, cached)."""
        table = self.cache.get("info_quad")
        if table is None:
            table = self.cache["info_quad"] = np.ascontiguousarray(self.items.info(self.grid))
            table.setflags(write=False)
        return table

    @property
    def info_table(self):
        """Information table in bank order, shape (n_info, n_items) (a copy)."""
        return self.info_sorted[:, self.position]

    def info_weights(self, theta):
        """Row ``i`` of the information table and the weights of rows ``i, i + 1`` at ``theta``."""
        g = self.info_grid
        pos = (theta - g[0]) / (g[1] - g[0])
        pos = min(max(pos, 0.0), len(g) - 1.000001)
        i = int(pos)
        f = pos - i
        return i, np.array((1.0 - f, f), dtype=self.info_sorted.dtype)

    def info_at(self, theta):
        r"""Information of every item at ``theta`` (linear interpolation in the table).

        Returns
        -------
        ndarray of shape (n_items,)

        Beyond the table (it covers the abilities the posterior mean can reach,
        ``quad_range``) the information is computed exactly.
        """
        g = self.info_grid
        if not g[0] <= theta <= g[-1]:
            return self.items.info(float(theta))[0]
        i, w = self.info_weights(theta)
        out = np.empty(self.n_items)
        out[self.order] = w @ self.info_sorted[i : i + 2]
        return out

    def log_prior(self, mean, sd):
        """Normal log prior on ``grid`` (cached per mean and SD)."""
        key = ("prior", mean, sd)
        lp = self.cache.get(key)
        if lp is None:
            z = (self.grid - mean) / sd
            lp = self.cache[key] = -0.5 * z * z
            lp.setflags(write=False)
        return lp


def _codes(values, n, default, what):
    if values is None:
        return np.full(n, default), None
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(f"{what} must have one entry per item.")
    return values, values


def _labels(values, n, what):
    """Per-item labels as a Python list (a list stays a list: no numpy string array)."""
    if isinstance(values, (list, tuple)):
        if len(values) != n or any(isinstance(v, (list, tuple, np.ndarray)) for v in values[:1]):
            raise ValueError(f"{what} must have one entry per item.")
        return list(values)
    return _codes(values, n, None, what)[0].tolist()


def _coded(values, code):
    """``code(v)`` of each value, worked out once per distinct value (banks repeat a few labels)."""
    table = {v: code(v) for v in set(values)}
    return [table[v] for v in values]


def _enemy_label(g):
    if g is None or g != g:  # None or NaN
        return ""
    return str(g).strip()


def prepare_bank(
    a=None,
    b=None,
    c=None,
    d=None,
    *,
    model=None,
    thresholds=None,
    D=1.0,
    item_id=None,
    section=None,
    enemy_group=None,
    status=None,
    n_quad=61,
    quad_range=(-4.0, 4.0),
    info_points=321,
    info_range=(-6.0, 6.0),
    items=None,
):
    r"""Prepare an item bank once per process for :func:`cat_server.irt.step`.

    Parameters
    ----------
    a, b, c, d : array_like of shape (n_items,), optional
        Dichotomous 4PL parameters (see :func:`make_items`).
    model : str or sequence, optional
        Per-item model (``"2pl"``, ``"3pl"``, ``"grm"`` …).
    thresholds : array_like of shape (n_items, m), optional
        Polytomous category thresholds, NaN-padded.
    D : float, default 1.0
        Scaling constant.
    item_id : sequence of str, optional
        Defaults to ``"0", "1", …``.
    section : sequence of str, optional
        Blueprint section of each item (default one section ``""``).
    enemy_group : sequence, optional
        Enemy-group label of each item; empty / None / NaN means none. Two items
        of the same group never appear in one test.
    status : sequence of str or int, optional
        ``"active"``, ``"pretest"`` or ``"retired"`` (default active).
    n_quad : int, default 61
        Posterior quadrature points on ``quad_range``.
    info_points : int, default 321
        Points of the information table on ``info_range``.
    items : Items, optional
        Already built parameters (then a … thresholds are ignored).

    Returns
    -------
    Bank
    """
    if items is None:
        items = make_items(a, b, c, d, model=model, thresholds=thresholds, D=D)
    n = items.n_items
    if item_id is None:
        ids = np.array([str(i) for i in range(n)], dtype=object)
    else:
        ids = np.empty(len(item_id), dtype=object)
        ids[:] = [str(i) for i in item_id]
    if ids.shape != (n,):
        raise ValueError("item_id must have one entry per item.")
    index = dict(zip(ids.tolist(), range(n), strict=True))
    if len(index) != n:
        raise ValueError("item_id values must be unique.")

    sec = [""] * n if section is None else _labels(section, n, "section")
    names = tuple(sorted({str(s) for s in set(sec)}))
    lookup = {s: i for i, s in enumerate(names)}
    sec_idx = np.array(_coded(sec, lambda s: lookup[str(s)]), dtype=np.int64)
    masks = np.zeros((len(names), n), dtype=bool)
    masks[sec_idx, np.arange(n)] = True

    enemy = np.full(n, -1, dtype=np.int64)
    labels = {}
    if enemy_group is not None:
        grp = _labels(enemy_group, n, "enemy_group")
        for j, g in enumerate(_coded(grp, _enemy_label)):
            if g:
                enemy[j] = labels.setdefault(g, len(labels))
    grouped = np.flatnonzero(enemy >= 0)
    grouped = grouped[np.argsort(enemy[grouped], kind="stable")]
    cuts = np.searchsorted(enemy[grouped], np.arange(1, len(labels)))
    members = dict(enumerate(np.split(grouped, cuts))) if labels else {}

    def status_code(s):
        if isinstance(s, (int, np.integer)):
            return int(s)
        return STATUS_CODES[str(s).strip().lower() or "active"]

    if status is None:
        st_codes = np.full(n, ACTIVE, dtype=np.int8)
    elif isinstance(status, np.ndarray) and status.dtype.kind in "iu":
        st_codes = _codes(status, n, ACTIVE, "status")[0].astype(np.int8)
    else:
        try:
            st_codes = np.array(_coded(_labels(status, n, "status"), status_code), dtype=np.int8)
        except KeyError as exc:
            raise ValueError(f"Unknown item status {exc.args[0]!r}.") from None

    grid = np.linspace(quad_range[0], quad_range[1], n_quad)
    # the table keeps the rows the posterior mean can reach (it lies in quad_range),
    # at the points of the full grid: 214 of 321 rows by default
    info_grid = np.linspace(info_range[0], info_range[1], info_points)
    first = max(int(np.searchsorted(info_grid, quad_range[0], side="right")) - 1, 0)
    last = min(int(np.searchsorted(info_grid, quad_range[1], side="left")) + 1, info_points)
    if last - first >= 2:
        info_grid = info_grid[first:last]
    order = np.argsort(sec_idx, kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    ends = np.searchsorted(sec_idx[order], np.arange(len(names) + 1))
    bounds = tuple((int(ends[s]), int(ends[s + 1])) for s in range(len(names)))
    log_rows, log_row0 = tables.log_rows(items, grid)
    info_sorted = tables.info_table(items, info_grid, position)
    moments = np.ascontiguousarray(np.stack([np.ones_like(grid), grid, grid * grid], axis=1))
    # float32 like the information table: a step adds it to float32 criteria (no casting)
    blocked = np.where(st_codes[order] == ACTIVE, 0.0, -np.inf).astype(np.float32)
    lists = {
        "n_cat": items.n_cat.tolist(),
        "status": st_codes.tolist(),
        "enemy": enemy.tolist(),
        "section": sec_idx.tolist(),
        "position": position.tolist(),
        "order": order.tolist(),
        "log_row0": log_row0.tolist(),
        "enemy_positions": {g: position[m] for g, m in members.items()},
    }
    for arr in (log_rows, log_row0, info_sorted, moments, blocked, order, position):
        arr.setflags(write=False)
    return Bank(
        items=items,
        item_id=ids,
        section=sec_idx,
        section_names=names,
        section_masks=masks,
        enemy=enemy,
        enemy_members=members,
        status=st_codes,
        grid=grid,
        log_rows=log_rows,
        log_row0=log_row0,
        info_grid=info_grid,
        info_sorted=info_sorted,
        operational=st_codes == ACTIVE,
        pretest=st_codes == PRETEST,
        index=index,
        order=order,
        position=position,
        section_bounds=bounds,
        moments=moments,
        blocked=blocked,
        lists=lists,
    )
