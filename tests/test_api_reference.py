"""The API reference documents ``sklearn_lt.study`` and ``sklearn_lt.utils`` too (issue #26).

Both modules are public (their names appear in the user guide and the CLI's
docs): every name of their ``__all__`` must be in ``docs/api.rst``, as for the
modules that ``test_docs`` checks; the helpers only the estimators use live in
private modules.
"""

import pytest
from test_docs import test_every_public_name_is_in_the_api_reference as _check_module


@pytest.mark.parametrize("module_name", ["sklearn_lt.study", "sklearn_lt.utils"])
def test_every_public_name_is_in_the_api_reference(module_name):
    _check_module(module_name)


def test_utils_exports_the_user_facing_helpers_only():
    import sklearn_lt.utils

    assert sorted(sklearn_lt.utils.__all__) == ["limit_threads", "to_numpy", "to_tensor"]
