"""Every row of LORT's Table 1 (Lu et al. 2024) as an estimator factory."""

from ._logit_adjust import LogitAdjustedClassifier
from ._lort import LORTClassifier
from ._lws import LWSClassifier
from ._retrain import RetrainedClassifier
from ._softmax import CRTClassifier
from ._tau_cv import TauNormClassifierCV

__all__ = ["TABLE1_METHODS"]


# LORT's Table 1 as estimators, grouped by the knob of eq. 1 they turn: the
# logit function, the sampling ratio, inference-time changes, the weight
# norms, the loss (weights, focal term, offsets), and LORT. Settings: the
# defaults above, or the official ones where a method defines its own.
# (name, factory(random_state) -> unfitted estimator). The heads with an
# ``estimator`` parameter fit their default base on the training features;
# ``set_params(estimator=FrozenEstimator(joint))`` runs them on a joint
# classifier instead (the papers' protocol).
TABLE1_METHODS = [
    (
        "Vanilla FC",
        lambda random_state: RetrainedClassifier(loss="cross_entropy", random_state=random_state),
    ),
    (
        "Vanilla Cosine",
        lambda random_state: RetrainedClassifier(
            logits="cosine", loss="cross_entropy", random_state=random_state
        ),
    ),
    ("cRT", lambda random_state: CRTClassifier(random_state=random_state)),
    ("LWS", lambda random_state: LWSClassifier(random_state=random_state)),
    # tau chosen on held-out training folds (the official code sweeps it on test).
    ("tau-norm", lambda random_state: TauNormClassifierCV(random_state=random_state)),
    (
        "Post-hoc LA",
        lambda random_state: LogitAdjustedClassifier(random_state=random_state),
    ),
    # LTWB's stage two: fine-tune the base with class-balanced weights, MaxNorm 0.1.
    (
        "MaxNorm",
        lambda random_state: RetrainedClassifier(
            init="base",
            max_norm=0.1,
            loss="cross_entropy",
            reweight="class_balanced",
            random_state=random_state,
        ),
    ),
    (
        "CB loss",
        lambda random_state: RetrainedClassifier(
            loss="cross_entropy", reweight="class_balanced", random_state=random_state
        ),
    ),
    ("Focal", lambda random_state: RetrainedClassifier(loss="focal", random_state=random_state)),
    # LDAM on cosine logits (official normed layer, s=30), class-balanced weights
    # deferred to the second half of a fine-tuning of the base (DRW).
    (
        "LDAM-DRW",
        lambda random_state: RetrainedClassifier(
            init="base",
            logits="cosine",
            loss="ldam",
            reweight="class_balanced",
            reweight_from_epoch=5,
            random_state=random_state,
        ),
    ),
    # The logit-adjusted loss with tau=1 is the same loss (a softmax ignores log N).
    (
        "Balanced Softmax",
        lambda random_state: RetrainedClassifier(
            loss="balanced_softmax", random_state=random_state
        ),
    ),
    ("LORT", lambda random_state: LORTClassifier(random_state=random_state)),
]
