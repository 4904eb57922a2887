import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from irt_testlib import make_bank
from numpy.testing import assert_allclose

from cat_server import irt
from cat_server.irt import selection as sel
from cat_server.irt.selection import attempt_uniform


def run_test(bank, cfg, rng, theta=0.0, **kw):
    """Run one CAT with a simulated candidate; return (state, last result)."""
    state = irt.CatState.new(bank, seed=int(rng.integers(1 << 30)))
    while True:
        res = irt.step(bank, state, cfg, rng, **kw)
        if res.item is None:
            return state, res
        p = bank.items.probs(theta)[0, res.item, : bank.items.n_cat[res.item]]
        state.record(bank, res.item, int(rng.choice(p.size, p=p / p.sum())), pretest=res.pretest)


def test_fixed_length_stops_at_max_length(bank, rng):
    state, res = run_test(bank, irt.CatConfig(max_length=12), rng)
    assert res.stop_reason == "max_length"
    assert state.n_operational == 12
    assert np.isfinite(res.theta) and 0 < res.se < 1


def test_se_target_with_min_and_max_length(bank, rng):
    cfg = irt.CatConfig(min_length=5, max_length=60, se_target=0.45)
    state, res = run_test(bank, cfg, rng)
    assert res.stop_reason in ("se", "max_length")
    assert 5 <= state.n_operational <= 60
    if res.stop_reason == "se":
        assert res.se <= 0.45
    cfg = irt.CatConfig(min_length=8, max_length=60, se_target=5.0)
    state, res = run_test(bank, cfg, rng)
    assert state.n_operational == 8 and res.stop_reason == "se"


def test_time_limit_stops():
    bank = make_bank(50)
    res = irt.step(bank, irt.CatState.new(bank), irt.CatConfig(time_limit=60), None, elapsed=61)
    assert res.item is None and res.stop_reason == "time"


@pytest.mark.parametrize("rule", ["sprt", "ci"])
def test_classification_stops_early_far_from_cut(rule, rng):
    bank = make_bank(400)
    cfg = irt.CatConfig(min_length=3, max_length=50, cut=0.0, classification=rule)
    state, res = run_test(bank, cfg, rng, theta=2.5)
    assert res.stop_reason == "classified"
    assert state.n_operational < 50
    assert res.theta > 0


def test_sprt_and_ci_decisions():
    assert irt.sprt_decision(5.0, 0.0) == 1
    assert irt.sprt_decision(0.0, 5.0) == -1
    assert irt.sprt_decision(0.1, 0.0) == 0
    assert irt.ci_decision(1.0, 0.3, 0.0) == 1
    assert irt.ci_decision(-1.0, 0.3, 0.0) == -1
    assert irt.ci_decision(0.2, 0.3, 0.0) == 0


def test_first_item_is_max_information_at_prior_mean(bank):
    res = irt.step(bank, irt.CatState.new(bank), irt.CatConfig(), None)
    info = bank.items.info(0.0)[0]
    info[~bank.operational] = -1
    assert info[res.item] >= info.max() - 1e-3


def test_state_rebuilt_from_json_equals_incremental(bank, rng):
    cfg = irt.CatConfig(max_length=15, exposure="randomesque")
    state, _ = run_test(bank, cfg, rng)
    data = json.loads(json.dumps(state.to_json(bank)))
    again = irt.CatState.from_json(bank, data)
    assert_allclose(again.log_lik, state.log_lik)
    assert again.items == state.items and again.scores == state.scores
    assert again.enemy_groups == state.enemy_groups and again.seed == state.seed
    r1 = irt.step(bank, state, cfg, np.random.default_rng(1))
    r2 = irt.step(bank, again, cfg, np.random.default_rng(1))
    assert r1 == r2


def test_record_rejects_bad_input(bank):
    state = irt.CatState.new(bank)
    with pytest.raises(ValueError):
        state.record(bank, 1, 2)
    state.record(bank, 1, 1)
    with pytest.raises(ValueError):
        state.record(bank, 1, 0)
    with pytest.raises(ValueError):
        state.record(bank, "nope", 0)


def test_randomesque_picks_among_top_k(bank):
    cfg = irt.CatConfig(exposure="randomesque", randomesque_k=4)
    state = irt.CatState.new(bank)
    info = bank.info_at(0.0).copy()
    info[~bank.operational] = -np.inf
    top = set(np.argsort(-info)[:4].tolist())
    picks = {irt.step(bank, state, cfg, np.random.default_rng(s)).item for s in range(60)}
    assert picks == top


def test_sympson_hetter_rejection_is_fixed_per_attempt(bank):
    k = np.ones(bank.n_items)
    best = irt.step(bank, irt.CatState.new(bank), irt.CatConfig(), None).item
    k[best] = 0.5
    cfg = irt.CatConfig(exposure="sympson-hetter", sh_k=k)
    hits = [
        irt.step(bank, irt.CatState.new(bank, seed=s), cfg, None).item == best for s in range(400)
    ]
    assert 0.4 < np.mean(hits) < 0.6
    u = attempt_uniform(12345, np.arange(1000))
    assert 0.45 < u.mean() < 0.55 and u.min() >= 0 and u.max() < 1


def test_progressive_restricted_avoids_overexposed_items(bank, rng):
    rates = np.zeros(bank.n_items)
    best = irt.step(bank, irt.CatState.new(bank), irt.CatConfig(), None).item
    rates[best] = 0.9
    cfg = irt.CatConfig(exposure="progressive", max_exposure_rate=0.3)
    for s in range(20):
        res = irt.step(
            bank, irt.CatState.new(bank), cfg, np.random.default_rng(s), exposure_rates=rates
        )
        assert res.item != best


@pytest.mark.parametrize("selection", ["pwi", "kl"])
def test_other_selection_criteria_pick_informative_items(selection, bank, rng):
    state, res = run_test(bank, irt.CatConfig(max_length=10, selection=selection), rng)
    assert state.n_operational == 10
    info = bank.info_at(0.0)
    assert info[state.items[0]] > np.median(info[bank.operational])


def test_pretest_items_are_seeded_and_not_scored(bank, rng):
    cfg = irt.CatConfig(max_length=20, pretest_rate=0.3, pretest_max=3)
    state, res = run_test(bank, cfg, rng)
    pre = [i for i, p in zip(state.items, state.pretest, strict=True) if p]
    assert 1 <= len(pre) <= 3
    assert all(bank.pretest[i] for i in pre)
    assert state.n_operational == 20
    ops = [
        (i, s) for i, s, p in zip(state.items, state.scores, state.pretest, strict=True) if not p
    ]
    only = irt.CatState.from_responses(bank, [i for i, _ in ops], [s for _, s in ops])
    assert_allclose(only.log_lik, state.log_lik)


def test_spread_pretest_gives_exactly_n_at_positions_that_vary_and_stopping_never_cuts_them(bank):
    """An SE target met early still waits for the owed pretest items; never more than n."""
    cfg = irt.CatConfig(
        min_length=8, max_length=30, se_target=0.6, pretest_max=3, pretest_spread=True
    )
    where = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        state, res = run_test(bank, cfg, rng, theta=float(rng.normal()))
        flags = np.array(state.pretest)
        positions = np.flatnonzero(flags)
        assert flags.sum() == 3 and all(bank.pretest[state.items[k]] for k in positions)
        assert set(positions) == irt.pretest_slots(cfg, state.seed)
        assert positions.max() < cfg.min_length + 3
        where |= set(positions.tolist())
        assert state.n_operational >= cfg.min_length and res.stop_reason == "se"
    assert len(where) >= 8  # spread over the window, not always the same places


def test_bank_exhausted():
    bank = make_bank(12)
    state, res = run_test(bank, irt.CatConfig(max_length=50), np.random.default_rng(0))
    assert res.stop_reason == "bank_exhausted"


def test_polytomous_bank_runs():
    g = np.random.default_rng(0)
    thr = np.sort(g.normal(0, 1, (80, 3)), axis=1)
    bank = irt.prepare_bank(g.lognormal(0, 0.2, 80), thresholds=thr, model="gpcm")
    state, res = run_test(bank, irt.CatConfig(max_length=10), g, theta=1.0)
    assert state.n_operational == 10 and np.isfinite(res.theta)


content_counts = st.fixed_dictionaries(
    {"TWK": st.integers(0, 5), "TIU": st.integers(0, 5), "TKP": st.integers(0, 5)}
)


@settings(max_examples=25, deadline=None)
@given(
    mins=content_counts,
    length=st.integers(5, 20),
    exposure=st.sampled_from(["none", "randomesque", "progressive", "sympson-hetter"]),
    theta=st.floats(-3, 3),
    seed=st.integers(0, 1000),
)
def test_selection_never_repeats_never_enemy_or_inactive_and_meets_content(
    mins, length, exposure, theta, seed
):
    bank = BANK
    content = {s: (m, m + 6) for s, m in mins.items()}
    cfg = irt.CatConfig(
        max_length=length,
        exposure=exposure,
        content=content,
        sh_k=np.full(bank.n_items, 0.5),
        pretest_rate=0.2,
        pretest_max=2,
    )
    rng = np.random.default_rng(seed)
    state, res = run_test(bank, cfg, rng, theta=theta)
    items = np.array(state.items)
    assert len(set(state.items)) == len(state.items)
    assert not np.any(bank.status[items] == irt.RETIRED)
    ops = items[~np.array(state.pretest)]
    assert np.all(bank.operational[ops])
    groups = bank.enemy[items]
    groups = groups[groups >= 0]
    assert len(set(groups.tolist())) == len(groups)
    counts = {s: int((bank.section[ops] == bank.section_names.index(s)).sum()) for s in content}
    # targets are only satisfiable when the length lies between the minima and maxima
    if sum(mins.values()) <= length <= sum(hi for _, hi in content.values()):
        for s, (lo, hi) in content.items():
            assert lo <= counts[s] <= hi, (counts, content)


BANK = make_bank(240, seed=11)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3), st.integers(0, 100))
def test_content_proportions_are_followed(props, seed):
    bank = BANK
    total = sum(props)
    content = {s: p / total for s, p in zip(("TWK", "TIU", "TKP"), props, strict=True)}
    cfg = irt.CatConfig(max_length=20, content=content)
    state, _ = run_test(bank, cfg, np.random.default_rng(seed))
    for s, p in content.items():
        n = int((bank.section[np.array(state.items)] == bank.section_names.index(s)).sum())
        assert abs(n - 20 * p) <= 1.5


def test_step_from_responses_matches_stateful_step(bank, rng):
    cfg = irt.CatConfig(max_length=10)
    state, _ = run_test(bank, cfg, rng)
    ids = [bank.item_id[i] for i in state.items]
    r1 = irt.step_from_responses(bank, ids[:6], state.scores[:6], cfg, None)
    partial = irt.CatState.from_responses(bank, state.items[:6], state.scores[:6])
    assert r1 == irt.step(bank, partial, cfg, None)


def reference_choice(bank, state, cfg, theta):
    """The next item by the definitions, on bank-order arrays: no tables, no section order."""
    elig = sel.eligible_mask(bank, state.items, state.enemy_groups, bank.operational)
    info = bank.items.info(theta)[0]
    for sections in sel.content_mask(
        bank, state.counts, state.n_operational, cfg.max_length, cfg.content
    ):
        m = elig & bank.section_masks[sections].any(axis=0)
        if m.any():
            return int(np.flatnonzero(m)[np.argmax(info[m])])
    return None


@settings(max_examples=30, deadline=None)
@given(
    content=st.sampled_from(
        [None, {"TWK": 0.2, "TIU": 0.5, "TKP": 0.3}, {"TWK": (2, 4), "TKP": (3, 6)}, {"TIU": 1.0}]
    ),
    n_given=st.integers(0, 25),
    seed=st.integers(0, 10_000),
)
def test_step_chooses_what_the_definitions_choose(content, n_given, seed):
    # the hot path keeps items in section order and blocks them incrementally;
    # its choice must be the maximum-information eligible item of the preferred section
    bank = BANK
    g = np.random.default_rng(seed)
    cfg = irt.CatConfig(max_length=30, content=content)
    state = irt.CatState.new(bank)
    for j in g.permutation(bank.n_items):
        if state.n_operational >= n_given:
            break
        if bank.operational[j] and (bank.enemy[j] < 0 or bank.enemy[j] not in state.enemy_groups):
            state.record(bank, int(j), int(g.random() < 0.5))
    res = irt.step(bank, state, cfg, None)
    ref = reference_choice(bank, state, cfg, res.theta)
    # the table is interpolated: the reference may prefer an item within 1e-3 of it
    info = bank.items.info(res.theta)[0]
    assert res.item == ref or abs(info[res.item] - info[ref]) < 1e-3


def test_randomesque_with_fewer_eligible_items_than_k_is_uniform():
    bank = make_bank(12, seed=2)
    cfg = irt.CatConfig(exposure="randomesque", randomesque_k=8)
    state = irt.CatState.new(bank)
    left = [j for j in range(bank.n_items) if bank.operational[j]][:3]
    for j in range(bank.n_items):
        if j not in left and bank.operational[j] and bank.enemy[j] not in state.enemy_groups:
            state.record(bank, j, 1)
    free = np.isfinite(state.blocked).sum()
    picks = [irt.step(bank, state, cfg, np.random.default_rng(s)).item for s in range(3000)]
    values, counts = np.unique(picks, return_counts=True)
    assert values.size == free
    assert_allclose(counts / 3000, 1 / free, atol=0.04)
