r"""Next-item selection: information criteria, exposure control, content balancing.

All functions work on a prepared :class:`~cat_server.irt.bank.Bank` and a
boolean *eligibility* mask (items not yet given, not enemies of given items, of
the right status), and return an item index or ``None``.
"""

from __future__ import annotations

import math

import numpy as np

NEG = -np.inf


def eligible_mask(bank, given, enemy_groups, pool):
    r"""Items that may still be presented.

    Parameters
    ----------
    bank : Bank
    given : sequence of int
        Items already presented (operational and pretest).
    enemy_groups : iterable of int
        Enemy groups already used.
    pool : ndarray of bool, shape (n_items,)
        Status pool (``bank.operational`` or ``bank.pretest``).

    Returns
    -------
    ndarray of bool, shape (n_items,)
    """
    m = pool.copy()
    if len(given):
        m[np.asarray(given, dtype=np.int64)] = False
    for g in enemy_groups:
        m[bank.enemy_members[g]] = False
    return m


def content_mask(bank, counts, n_given, max_length, content):
    r"""Restrict selection to sections so the blueprint targets are met.

    Parameters
    ----------
    bank : Bank
    counts : ndarray of int, shape (n_sections,)
        Operational items given per section.
    n_given : int
        Operational items given.
    max_length : int
    content : dict
        ``{section: (min, max)}`` counts, or ``{section: proportion}``.
        Sections not named have no constraint (counts) or target 0
        (proportions).

    Returns
    -------
    list of ndarray of int
        Candidate section index sets, in order of preference: the first one
        that still has an eligible item is used.

    Notes
    -----
    *Counts*: a section at its maximum is closed; when the slots left equal
    the unmet minima, only sections below their minimum stay open.
    *Proportions* (Kingsbury & Zara's constrained CAT): the section with the
    largest gap :math:`t_s - n_s / (n + 1)` is preferred, then the next.
    """
    sets = section_sets(bank, counts, n_given, max_length, content)
    return [np.array(s, dtype=np.int64) for s in sets]


def _content_rule(bank, content):
    """Parsed ``content`` for ``bank``: ``(True, lo, hi)`` counts or ``(False, target, named)``.

    ``named``: the sections with a positive target, in section order.

    Cached on the bank per content dict (checked by value, so a dict changed in
    place is parsed again).
    """
    cache = bank.cache
    key = ("content", id(content))
    hit = cache.get(key)
    if hit is not None and hit[0] == content:
        return hit[1]
    names = bank.section_names
    n_sec = len(names)
    if isinstance(next(iter(content.values())), (tuple, list)):
        lo = [0.0] * n_sec
        hi = [math.inf] * n_sec
        for s, (mn, mx) in content.items():
            if s in names:
                i = names.index(s)
                lo[i] = mn or 0
                hi[i] = math.inf if mx is None else mx
        rule = (True, lo, hi)
    else:
        target = [0.0] * n_sec
        for s, p in content.items():
            if s in names:
                target[names.index(s)] = p
        rule = (False, target, [i for i in range(n_sec) if target[i] > 0])
    if len(cache) > 256:  # configs built on the fly (simulations) must not grow it forever
        cache.clear()
    cache[key] = (dict(content), rule)
    return rule


def section_sets(bank, counts, n_given, max_length, content):
    """:func:`content_mask` as sorted lists of section indices, yielded lazily (the hot path's form).

    Plain Python: a blueprint has a handful of sections, for which lists beat
    arrays. The caller usually takes only the first set.
    """
    every = list(range(len(bank.section_names)))
    if not content:
        yield every
        return
    counts = counts.tolist()
    rule = _content_rule(bank, content)
    if rule[0]:
        _, lo, hi = rule
        open_ = [i for i in every if counts[i] < hi[i]]
        if sum(max(lo[i] - counts[i], 0) for i in every) >= max_length - n_given:
            forced = [i for i in open_ if lo[i] > counts[i]]
            if forced:
                yield forced
                yield open_
                return
        yield open_
        yield every
        return
    target, named = rule[1], rule[2]
    if not named:
        yield every
        return
    scale = 1.0 / (n_given + 1.0)
    gap = [target[i] - counts[i] * scale for i in named]
    first = gap.index(max(gap))  # the first of equal gaps, as a stable sort
    yield [named[first]]
    rest = sorted(range(len(named)), key=gap.__getitem__, reverse=True)  # ties: section order
    for k in rest:
        if k != first:
            yield [named[k]]
    yield every


def criterion(bank, theta, log_post, method):
    r"""Selection criterion of every item (larger is better).

    Parameters
    ----------
    bank : Bank
    theta : float
        Current estimate.
    log_post : ndarray of shape (n_quad,)
        Current log posterior on ``bank.grid``.
    method : {"mfi", "pwi", "kl"}
        Maximum Fisher information at ``theta``; posterior-weighted
        information; posterior-weighted Kullback–Leibler information.

    Returns
    -------
    ndarray of shape (n_items,)

    Notes
    -----
    .. math::
        \mathrm{PWI}_j = \int I_j(\theta)\, \pi(\theta \mid x)\, d\theta, \qquad
        \mathrm{KL}_j = \int \sum_k P_{jk}(\hat\theta)
            \log \frac{P_{jk}(\hat\theta)}{P_{jk}(\theta)} \pi(\theta \mid x)\, d\theta
    """
    if method == "mfi":
        return bank.info_at(theta)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    if method == "pwi":
        return w @ bank.info_quad
    if method == "kl":
        lp_hat = bank.items.log_probs(np.array([theta]))[0]  # (n_items, K)
        lp_hat = lp_hat[np.arange(lp_hat.shape[1]) < bank.items.n_cat[:, None]]  # log_rows' order
        terms = np.exp(lp_hat) * (lp_hat - bank.log_rows @ w)
        return np.add.reduceat(terms, bank.log_row0)
    raise ValueError(f"Unknown selection method {method!r}.")


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def attempt_uniform(seed, items):
    r"""Uniform numbers fixed per (attempt seed, item): SplitMix64 of ``seed`` and ``item``.

    Sympson–Hetter uses them so that an item rejected once for a candidate
    stays rejected for the rest of that test (the classic procedure) while the
    state stays a plain list of responses plus a seed.

    Parameters
    ----------
    seed : int or ndarray of int
        Attempt seed, or one per row broadcast against ``items``.
    items : ndarray of int
        Bank indices.

    Returns
    -------
    ndarray of shape items.shape, values in [0, 1)
    """
    if isinstance(seed, (int, np.integer)):
        seed = np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF)
    else:  # an array of seeds (one per candidate, broadcast against items)
        seed = np.asarray(seed, dtype=np.int64).astype(np.uint64)
    z = seed + (np.asarray(items, np.uint64) + np.uint64(1)) * _M1
    z = (z ^ (z >> np.uint64(30))) * _M2
    z = (z ^ (z >> np.uint64(27))) * _M3
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(float) * 2.0**-53


def pick(score, mask, exposure, rng, *, progress=0.0, sh_k=None, k=5, seed=0):
    r"""Choose one item among ``mask`` by ``score`` under an exposure rule.

    Parameters
    ----------
    score : ndarray of shape (n_items,)
    mask : ndarray of bool, shape (n_items,)
    exposure : {"none", "randomesque", "sympson-hetter", "progressive"}
    rng : numpy.random.Generator
    progress : float
        Share of the test already given, :math:`s / L` (progressive method).
    sh_k : ndarray of shape (n_items,), optional
        Sympson–Hetter exposure parameters :math:`K_j`.
    k : int
        Randomesque group size.
    seed : int
        Attempt seed for the Sympson–Hetter draws (:func:`attempt_uniform`).

    Returns
    -------
    int or None

    Notes
    -----
    * randomesque (Kingsbury & Zara, 1989): uniform among the ``k`` best;
    * Sympson–Hetter: walk down the ranking, item :math:`j` is administered
      with probability :math:`K_j`, else the next one is tried; a rejected
      item stays rejected for that candidate (draws fixed per attempt seed);
    * progressive (Revuelta & Ponsoda, 1998):
      :math:`w_j = (1 - s/L)\, U_j \max_i I_i + (s/L)\, I_j`,
      :math:`U_j \sim U(0, 1)`.
    """
    idx = np.flatnonzero(mask)
    n = idx.size
    if n == 0:
        return None
    s = score[idx]
    if exposure == "none" or n == 1:
        return int(idx[np.argmax(s)])
    if exposure == "randomesque":
        if n <= k:
            return int(idx[rng.integers(n)])
        top = np.argpartition(s, n - k)[n - k :]
        return int(idx[top[rng.integers(k)]])
    if exposure == "sympson-hetter":
        m = min(n, 64)
        top = np.argpartition(s, n - m)[n - m :] if n > m else np.arange(n)
        top = top[np.argsort(-s[top], kind="stable")]
        cand = idx[top]
        if sh_k is None:
            return int(cand[0])
        accept = attempt_uniform(seed, cand) < sh_k[cand]
        hit = np.flatnonzero(accept)
        return int(cand[hit[0]] if hit.size else cand[-1])
    if exposure == "progressive":
        smax = s.max()
        w = (1.0 - progress) * rng.random(n) * smax + progress * s
        return int(idx[np.argmax(w)])
    raise ValueError(f"Unknown exposure method {exposure!r}.")


def choose(
    bank,
    sections,
    blocked,
    exposure,
    rng,
    *,
    row=None,
    weights=None,
    score=None,
    progress=0.0,
    sh_k=None,
    k=5,
    seed=0,
):
    r"""Choose one item of ``sections`` under an exposure rule; the hot path's :func:`pick`.

    Parameters
    ----------
    bank : Bank
    sections : list of int
        Sorted section indices (one entry of :func:`section_sets`).
    blocked : ndarray of shape (n_items,)
        ``0`` for selectable items, ``-inf`` for the others, internal order.
    exposure : {"none", "randomesque", "sympson-hetter", "progressive"}
    rng : numpy.random.Generator
    row, weights : int and ndarray of shape (2,), optional
        Maximum information: the criterion is ``weights @ info_sorted[row:row + 2]``
        (:meth:`Bank.info_weights`), computed only over ``sections``.
    score : ndarray of shape (n_items,), optional
        Otherwise, the criterion of every item in internal order.
    progress, sh_k, k, seed
        As in :func:`pick`.

    Returns
    -------
    int or None
        Bank index, or ``None`` when no item of ``sections`` is selectable.

    Notes
    -----
    The sections are one slice of the section-ordered tables, so the criterion
    is evaluated only where the content rule allows. Randomesque draws the rank
    :math:`r \sim U\{0..k-1\}` first and takes the :math:`(r+1)`-th best by
    repeated ``argmax`` (a few passes instead of a partial sort); with
    :math:`m < k` selectable items a rank past the end is redrawn among those
    :math:`m`, which keeps every one at probability :math:`1/m`.
    """
    if not sections:
        return None
    bounds = bank.section_bounds
    lo, hi = bounds[sections[0]][0], bounds[sections[-1]][1]
    if hi <= lo:
        return None
    if score is None:
        s = np.dot(weights, bank.info_sorted[row : row + 2, lo:hi])
    else:
        s = score[lo:hi].copy()
    s += blocked[lo:hi]
    if len(sections) != sections[-1] - sections[0] + 1:
        for t in range(sections[0] + 1, sections[-1]):
            if t not in sections:  # a section inside the slice that is not asked for
                s[bounds[t][0] - lo : bounds[t][1] - lo] = NEG
    order = bank.lists["order"]
    if exposure == "none" or (exposure == "randomesque" and k <= 1):
        j = int(s.argmax())
        return None if s[j] == NEG else order[lo + j]
    if exposure == "randomesque":
        rank = int(rng.random() * k)
        found = []
        while True:
            j = int(s.argmax())
            if s[j] == NEG:
                if not found:
                    return None
                j = found[int(rng.random() * len(found))]
                break
            if len(found) == rank:
                break
            found.append(j)
            s[j] = NEG
        return order[lo + j]
    idx = np.flatnonzero(s > NEG)
    n = idx.size
    if n == 0:
        return None
    if n == 1:
        return order[lo + int(idx[0])]
    sv = s[idx]
    if exposure == "sympson-hetter":
        m = min(n, 64)
        top = np.argpartition(sv, n - m)[n - m :] if n > m else np.arange(n)
        top = top[np.argsort(-sv[top], kind="stable")]
        cand = bank.order[lo + idx[top]]
        if sh_k is None:
            return int(cand[0])
        accept = attempt_uniform(seed, cand) < sh_k[cand]
        hit = np.flatnonzero(accept)
        return int(cand[hit[0]] if hit.size else cand[-1])
    if exposure == "progressive":
        w = (1.0 - progress) * rng.random(n) * sv.max() + progress * sv
        return order[lo + int(idx[np.argmax(w)])]
    raise ValueError(f"Unknown exposure method {exposure!r}.")
