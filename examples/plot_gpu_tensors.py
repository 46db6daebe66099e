"""
========================================
Heads on GPU tensors (with CPU fallback)
========================================

Every head of sklearn-lt computes in torch: give it torch tensors and it
answers with torch tensors on the same device, with no global switch. This
example runs on a CUDA GPU when one is present and on CPU tensors otherwise;
the code is the same.

See :ref:`gpu` in the user guide.
"""

# License: BSD-3-Clause

# %%
# Features as tensors on the device
# ---------------------------------
# In practice the features come out of a backbone already on the GPU. Here
# the pixels of digits-LT are moved there.
import pickle

import matplotlib.pyplot as plt
import numpy as np
import torch

from sklearn_lt import CRTClassifier, NCMClassifier, TauNormClassifier
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.metrics import shot_accuracy
from sklearn_lt.plotting import ShotAccuracyDisplay

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print("computing on", device)

digits = load_digits_lt()
many, few = digits.shot_thresholds
Z_train = torch.as_tensor(digits.X_train, device=device)
y_train = torch.as_tensor(digits.y_train, device=device)
Z_test = torch.as_tensor(digits.X_test, device=device)
y_test = torch.as_tensor(digits.y_test, device=device)

# %%
# Torch in, torch out
# -------------------
# Fitted weights stay on the training device, and predictions come back as
# tensors on the device of the input.
heads = {
    "NCM": NCMClassifier(),
    "tau-norm": TauNormClassifier(tau=1.0, random_state=0),
    "cRT": CRTClassifier(random_state=0),
}
predictions = {}
for name, head in heads.items():
    head.fit(Z_train, y_train)
    y_pred = head.predict(Z_test)
    proba = head.predict_proba(Z_test)
    predictions[name] = y_pred
    print(
        f"{name:9s} coef_: {type(head.coef_).__name__} "
        f"on {head.coef_.device}, "
        f"predict: {type(y_pred).__name__} on {y_pred.device}, "
        f"predict_proba: {tuple(proba.shape)} on {proba.device}"
    )

# %%
# Evaluation straight from tensors
# --------------------------------
# :func:`~sklearn_lt.metrics.shot_accuracy`, the scorers and the displays of
# :mod:`sklearn_lt.plotting` take tensors on any device, mixed with numpy, so
# nothing has to be converted by hand.
fig, ax = plt.subplots(figsize=(8, 4))
display = ShotAccuracyDisplay.from_predictions(
    y_test,
    predictions,
    digits.class_counts,
    classes=digits.class_order,
    many_threshold=many,
    few_threshold=few,
    values_format=".2f",
    ax=ax,
)
ax.set_title(f"Predictions computed on {device.type} (digits-LT test set)")
fig.tight_layout()
plt.show()

result = shot_accuracy(
    y_test,
    predictions["cRT"],
    digits.class_counts,
    classes=digits.class_order,
    many_threshold=many,
    few_threshold=few,
)
print("cRT per-class accuracy:", np.round(result.per_class, 2))

# %%
# Numpy in, numpy out, computed on the device
# -------------------------------------------
# ``device=`` computes somewhere else than where the data is: numpy input is
# moved to the device for the computation, and the results come back as
# numpy.
crt = CRTClassifier(device=device, random_state=0).fit(
    digits.X_train, digits.y_train
)
y_pred = crt.predict(digits.X_test)
print(type(crt.coef_).__name__, type(y_pred).__name__)

# %%
# A head fitted on numpy predicts tensors too: its weights move to the
# input's device.
print(type(crt.predict(Z_test)).__name__, crt.predict(Z_test).device)

# %%
# Saving a GPU-fitted head
# ------------------------
# Fitted tensors are pickled on the CPU, so a head fitted on a GPU loads on a
# machine without one; ``predict`` moves the weights to wherever its input is.
restored = pickle.loads(pickle.dumps(heads["cRT"]))
print("restored coef_ on", restored.coef_.device)
same = torch.equal(restored.predict(Z_test), predictions["cRT"])
print("same predictions after the round trip:", same)
