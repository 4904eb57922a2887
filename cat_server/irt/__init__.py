"""IRT engine of cat_server: pure numpy/scipy, no Flask, no database.

Public API (stable; see docs/engine.md):

* models: :func:`make_items`, :class:`Items`, :func:`prob_4pl`,
  :func:`info_4pl`, :func:`prob_grm`, :func:`prob_gpcm`,
  :func:`log_likelihood`, :func:`test_information`, :func:`simulate_responses`;
* hot path: :func:`prepare_bank`, :class:`Bank`, :class:`CatConfig`,
  :class:`CatState`, :func:`step`, :class:`StepResult`, :func:`posterior`;
* ability: :func:`eap`, :func:`map_estimate`, :func:`mle`, :func:`wle`,
  :func:`estimate`;
* calibration: :func:`calibrate`, :class:`CalibrationResult`, :func:`item_fit`,
  :func:`s_x2`;
* simulation: :func:`simulate_cat`, :func:`sympson_hetter_parameters`;
* fixed forms: :func:`score_distribution`, :func:`eapsum_table`, :class:`SumScoreTable`;
* linking: :func:`link_scales`, :class:`Linking`, :func:`transform` (module
  :mod:`.linking`, loaded on first use: it needs ``scipy.optimize``, which
  ``import cat_server.irt`` does not pay for).
"""

from .bank import ACTIVE, PRETEST, RETIRED, Bank, prepare_bank
from .calibration import CalibrationResult, calibrate, item_fit
from .engine import (
    CatConfig,
    CatState,
    StepResult,
    posterior,
    pretest_slots,
    step,
    step_from_responses,
)
from .estimation import eap, estimate, map_estimate, mle, wle
from .fit import s_x2
from .models import (
    DICHOTOMOUS,
    GPCM,
    GRM,
    Items,
    info_4pl,
    log_likelihood,
    make_items,
    prob_4pl,
    prob_gpcm,
    prob_grm,
    simulate_responses,
    test_information,
)
from .scoring import SumScoreTable, eapsum_table, score_distribution
from .simulation import simulate_cat, sympson_hetter_parameters
from .stopping import ci_decision, sprt_decision

__all__ = [
    "ACTIVE",
    "PRETEST",
    "RETIRED",
    "DICHOTOMOUS",
    "GRM",
    "GPCM",
    "Bank",
    "CalibrationResult",
    "CatConfig",
    "CatState",
    "Items",
    "StepResult",
    "SumScoreTable",
    "calibrate",
    "ci_decision",
    "eap",
    "eapsum_table",
    "estimate",
    "info_4pl",
    "item_fit",
    "log_likelihood",
    "make_items",
    "map_estimate",
    "mle",
    "posterior",
    "prepare_bank",
    "prob_4pl",
    "prob_gpcm",
    "prob_grm",
    "s_x2",
    "score_distribution",
    "simulate_cat",
    "simulate_responses",
    "sprt_decision",
    "pretest_slots",
    "step",
    "step_from_responses",
    "sympson_hetter_parameters",
    "test_information",
    "wle",
]

_LAZY = {"link_scales", "Linking", "transform"}


def __getattr__(name):
    # PEP 562: linking pulls in scipy.optimize (~0.3 s); load it when first asked for
    if name in _LAZY:
        from . import linking

        return getattr(linking, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
