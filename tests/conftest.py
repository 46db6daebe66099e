"""Fixtures shared by the test modules; the plain helpers they build on are in ``_support``."""

import _support
import pytest
from hypothesis import settings

# CI (``.ci/run``) runs the property tests on a fixed sequence of examples, so a
# landing does not hinge on a draw; a plain ``pytest`` draws new ones each run.
settings.register_profile("ci", derandomize=True, print_blob=True)


@pytest.fixture(scope="session")
def digits_lt():
    """digits-LT (IR 50, pixels in [0, 1]): ``(X_train, y_train, X_test, y_test)``."""
    return _support.digits_lt()


@pytest.fixture(scope="session")
def digits_lt_features():
    """digits-LT standardised as features (float64): ``(X_train, y_train, X_test, y_test)``."""
    return _support.digits_lt_features()


@pytest.fixture(scope="session")
def digits_images():
    """The first 150 digits as rows of 64 pixels in [0, 1] (float32) and their labels."""
    return _support.digits_images()
