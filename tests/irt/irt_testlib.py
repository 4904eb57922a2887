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
