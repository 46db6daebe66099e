"""scikit-learn's array API checks on every head, with torch arrays.

The heads claim ``array_api_support``: fitted with torch tensors under
``sklearn.set_config(array_api_dispatch=True)``, every fitted array but
``classes_`` and every output must be in torch, on the input's device, with the
values of a numpy fit. scikit-learn's own check asserts it; it needs
``SCIPY_ARRAY_API=1`` set before scipy is first imported, so it runs in a fresh
interpreter.
"""

import json
import os
import subprocess
import sys

import _support
import pytest
import torch
from _support import head_id

# Each head of the shared list by its test id, as the code that builds it.
HEADS = {head_id(head): " ".join(repr(head).split()) for head in _support.HEADS}

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

_SCRIPT = """
import json, sys
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import check_array_api_input
from sklearn_lt import *
results = {}
for key, code in json.loads(sys.argv[1]).items():
    for device in json.loads(sys.argv[2]):
        for dtype in ("float32", "float64"):
            try:
                check_array_api_input(key, eval(code), "torch", device_name=device,
                                      dtype_name=dtype, check_values=True)
                outcome = "ok"
            except Exception as exc:  # reported by the test that reads it
                outcome = f"{type(exc).__name__}: {exc}"
            results[f"{key}-{device}-{dtype}"] = outcome
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def outcomes():
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(HEADS), json.dumps(DEVICES)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("head", sorted(HEADS))
def test_sklearn_array_api_check_passes(outcomes, head, device, dtype):
    assert outcomes[f"{head}-{device}-{dtype}"] == "ok"
