"""prepare_bank's tables: exact on mixed banks, and small enough for 100,000 items (issue 20)."""

import tracemalloc

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from cat_server import irt


def mixed_bank_arguments(n, seed):
    """3PL (TWK, TIU) and GPCM/GRM items with 2-5 categories (TKP); enemy groups; statuses."""
    g = np.random.default_rng(seed)
    sec = np.array(["TWK", "TIU", "TKP"])[g.integers(0, 3, n)]
    poly = sec == "TKP"
    model = np.where(poly, np.where(g.random(n) < 0.5, "gpcm", "grm"), "3pl")
    thresholds = np.sort(g.normal(0, 1, (n, 4)), axis=1)
    thresholds[np.arange(4) >= g.integers(1, 5, n)[:, None]] = np.nan  # 2..5 categories
    thresholds[~poly] = np.nan
    return dict(
        a=g.lognormal(0, 0.3, n),
        b=np.where(poly, 0.0, g.normal(0, 1, n)),
        c=np.where(poly, 0.0, g.uniform(0, 0.25, n)),
        model=model.tolist(),
        thresholds=thresholds,
        item_id=[f"Q{j:06d}" for j in range(n)],
        section=sec.tolist(),
        enemy_group=[f"E{j // 30}-{j % 3}" if j % 10 == 0 else "" for j in range(n)],
        status=g.choice(["active", "pretest", "retired"], n, p=[0.93, 0.05, 0.02]).tolist(),
    )


def test_tables_of_a_mixed_bank_are_the_model_functions():
    kw = mixed_bank_arguments(5000, 1)  # several blocks of items
    bank = irt.prepare_bank(**kw)
    items = bank.items
    assert len(set(items.n_cat.tolist())) == 4 and set(items.model.tolist()) == {0, 1, 2}
    exact = items.log_probs(bank.grid).transpose(1, 2, 0)
    dich = items.model == 0
    assert_array_equal(bank.log_p[dich], exact[dich])  # the same arithmetic, to the last bit
    assert_allclose(bank.log_p, exact, rtol=1e-12, atol=1e-12)
    assert bank.log_rows.shape == (items.n_cat.sum(), bank.grid.size)
    assert bank.info_sorted.dtype == np.float32
    assert_allclose(bank.info_table, items.info(bank.info_grid), rtol=1e-6, atol=1e-9)
    assert bank.info_grid[0] <= bank.grid[0] and bank.grid[-1] <= bank.info_grid[-1]
    assert_allclose(bank.info_at(5.0), items.info(5.0)[0])  # beyond the table: exact
    assert_allclose(bank.info_quad, items.info(bank.grid))
    enemy = np.array(kw["enemy_group"])
    for g, members in bank.enemy_members.items():
        assert_array_equal(members, np.flatnonzero(bank.enemy == g))
        assert len(set(enemy[members])) == 1
    assert sum(len(m) for m in bank.enemy_members.values()) == (enemy != "").sum()
    assert_array_equal(bank.status, [irt.bank.STATUS_CODES[s] for s in kw["status"]])
    # the state's log-likelihood adds the rows of the answers given
    five = 10 + int(np.argmax(items.n_cat[10:] == 5))
    state = irt.CatState.new(bank)
    for j, x in ((4, 0), (7, 1), (five, 4)):
        state.record(bank, j, x, pretest=False)
    lp = items.log_probs(bank.grid)
    assert_allclose(state.log_lik, lp[:, 4, 0] + lp[:, 7, 1] + lp[:, five, 4], rtol=1e-13)


def test_a_100000_item_bank_prepares_in_under_300_mb():
    kw = mixed_bank_arguments(100_000, 2)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        bank = irt.prepare_bank(**kw)
        kept, peak = (v - base for v in tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    assert bank.n_items == 100_000
    # before: 321 x 100,000 float64 information, log P padded to 5 categories, and
    # the information on the posterior grid: over 550 MB kept
    assert peak < 300 * 2**20, peak / 2**20
    assert kept < 260 * 2**20, kept / 2**20
