r"""A prepared item bank: parameter arrays plus the tables the hot path reads.

:func:`prepare_bank` is called once per process (per bank). It evaluates every
item once on two fixed ability grids so that one CAT step only indexes and
adds rows:

* ``log_p[j, k, q]``: :math:`\log P_{jk}(\theta_q)` on the quadrature grid
  used for the posterior (EAP);
* ``info_table[g, j]``: Fisher information on a finer grid, interpolated
  linearly at the current ability for maximum-information selection.

For selection the items are kept internally in *section order* (``order``:
internal position to bank index, ``position``: the inverse), so the items of a
blueprint section are one contiguous slice of the information table and of a
state's blocked-items vector: restricting a step to one section is slicing,
not masking. Bank indices are what every public function takes and returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    log_p : ndarray of shape (n_items, max_cat, n_quad)
    info_grid : ndarray of shape (n_info,)
        Evenly spaced abilities of ``info_table``.
    info_table : ndarray of shape (n_info, n_items)
        Bank order (a property; selection reads ``info_sorted``).
    info_sorted : ndarray of shape (n_info, n_items)
        The same table with its columns in section order (``order``).
    order : ndarray of int, shape (n_items,)
        Bank index of each internal (section-ordered) position.
    position : ndarray of int, shape (n_items,)
        Internal position of each bank item (inverse of ``order``).
    section_bounds : tuple of (int, int)
        Internal slice ``[start, stop)`` of each section.
    moments : ndarray of shape (n_quad, 3)
        Columns ``1, theta, theta**2`` of the grid: posterior moments in one product.
    blocked : ndarray of shape (n_items,)
        ``0`` for active items, ``-inf`` for the others, in internal order: the
        start of every state's blocked-items vector.
    lists : dict
        Per-item codes as Python lists (``n_cat``, ``status``, ``enemy``,
        ``section``, ``position``, ``order``) and each enemy group's internal
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
    log_p: np.ndarray
    info_grid: np.ndarray
    info_sorted: np.ndarray = field(repr=False)
    info_quad: np.ndarray = field(repr=False)
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
        return i, np.array((1.0 - f, f))

    def info_at(self, theta):
        r"""Information of every item at ``theta`` (linear interpolation in the table).

        Returns
        -------
        ndarray of shape (n_items,)
        """
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
    ids = (
        np.array([str(i) for i in range(n)], dtype=object)
        if item_id is None
        else np.asarray([str(i) for i in item_id], dtype=object)
    )
    if ids.shape != (n,):
        raise ValueError("item_id must have one entry per item.")
    if len(set(ids.tolist())) != n:
        raise ValueError("item_id values must be unique.")

    sec, _ = _codes(section, n, "", "section")
    names = tuple(sorted({str(s) for s in sec.tolist()}))
    lookup = {s: i for i, s in enumerate(names)}
    sec_idx = np.array([lookup[str(s)] for s in sec.tolist()], dtype=np.int64)
    masks = np.zeros((len(names), n), dtype=bool)
    masks[sec_idx, np.arange(n)] = True

    grp, _ = _codes(enemy_group, n, None, "enemy_group")
    labels = {}
    enemy = np.full(n, -1, dtype=np.int64)
    for j, g in enumerate(grp.tolist()):
        if g is None or (isinstance(g, float) and np.isnan(g)) or str(g).strip() == "":
            continue
        enemy[j] = labels.setdefault(str(g).strip(), len(labels))
    members = {g: np.flatnonzero(enemy == g) for g in range(len(labels))}

    st, _ = _codes(status, n, ACTIVE, "status")
    if st.dtype.kind in "iu":
        st_codes = st.astype(np.int8)
    else:
        try:
            st_codes = np.array(
                [STATUS_CODES[str(s).strip().lower() or "active"] for s in st.tolist()],
                dtype=np.int8,
            )
        except KeyError as exc:
            raise ValueError(f"Unknown item status {exc.args[0]!r}.") from None

    grid = np.linspace(quad_range[0], quad_range[1], n_quad)
    log_p = np.ascontiguousarray(items.log_probs(grid).transpose(1, 2, 0))
    info_grid = np.linspace(info_range[0], info_range[1], info_points)
    order = np.argsort(sec_idx, kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    ends = np.searchsorted(sec_idx[order], np.arange(len(names) + 1))
    bounds = tuple((int(ends[s]), int(ends[s + 1])) for s in range(len(names)))
    info_sorted = np.ascontiguousarray(items.info(info_grid)[:, order])
    info_quad = np.ascontiguousarray(items.info(grid))
    moments = np.ascontiguousarray(np.stack([np.ones_like(grid), grid, grid * grid], axis=1))
    blocked = np.where(st_codes[order] == ACTIVE, 0.0, -np.inf)
    lists = {
        "n_cat": items.n_cat.tolist(),
        "status": st_codes.tolist(),
        "enemy": enemy.tolist(),
        "section": sec_idx.tolist(),
        "position": position.tolist(),
        "order": order.tolist(),
        "enemy_positions": {g: position[m] for g, m in members.items()},
    }
    for arr in (log_p, info_sorted, info_quad, moments, blocked, order, position):
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
        log_p=log_p,
        info_grid=info_grid,
        info_sorted=info_sorted,
        info_quad=info_quad,
        operational=st_codes == ACTIVE,
        pretest=st_codes == PRETEST,
        index={s: j for j, s in enumerate(ids.tolist())},
        order=order,
        position=position,
        section_bounds=bounds,
        moments=moments,
        blocked=blocked,
        lists=lists,
    )
