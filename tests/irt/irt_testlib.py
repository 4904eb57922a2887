"""Helpers shared by the irt tests (imported by name: pytest puts this folder on sys.path)."""

import numpy as np

from cat_server import irt


def make_bank(n=300, seed=3, sections=("TWK", "TIU", "TKP"), **kwargs):
    """A random 3PL bank with sections, a few enemy groups, pretest and retired items."""
    g = np.random.default_rng(seed)
    a = g.lognormal(0, 0.3, n)
    b = g.normal(0, 1.2, n)
    c = g.uniform(0, 0.2, n)
    section = np.array(sections)[np.arange(n) % len(sections)]
    enemy = np.array([f"E{j // 3}" if j % 11 < 3 else "" for j in range(n)], dtype=object)
    status = np.where(np.arange(n) % 17 == 0, "pretest", "active").astype(object)
    status[np.arange(n) % 23 == 5] = "retired"
    return irt.prepare_bank(a, b, c, section=section, enemy_group=enemy, status=status, **kwargs)


def sparse_pretest(seed=2, n_persons=300, n_anchor=30, n_pre=30, per_person=3):
    """One centre's pretest data: every candidate answers the 30 anchors and 3 of 30 pretest
    items, so each pretest item has about 30 answers (20-42 with seed 2).

    Returns ``items`` (the true 2PL parameters, anchors first) and the responses.
    """
    rng = np.random.default_rng(seed)
    n = n_anchor + n_pre
    items = irt.make_items(rng.lognormal(0, 0.25, n), rng.normal(0, 1, n))
    x = irt.simulate_responses(rng.normal(size=n_persons), items, rng)
    seen = np.zeros((n_persons, n_pre), bool)
    for i in range(n_persons):
        seen[i, rng.choice(n_pre, per_person, replace=False)] = True
    x[:, n_anchor:][~seen] = -1
    return items, x
