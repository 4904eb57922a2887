import numpy as np
import pytest
from irt_testlib import make_bank


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def bank():
    return make_bank()
