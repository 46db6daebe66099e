"""Choosing tau: ``TauNormClassifierCV`` against ``GridSearchCV`` over ``TauNormClassifier``.

Both use the same 5 stratified folds, the same base (``SoftmaxClassifier``,
10 L-BFGS iterations, seeded), the same 21 taus (``np.linspace(0, 2, 21)``,
the official sweep) and the same score (mean per-class accuracy), and both
refit the best tau on all the data.

(a) Against ``GridSearchCV`` with the 21 taus, which refits the base for
    every tau and fold (106 base fits against 6). Goal: at most 0.25x.
(b) Against ``GridSearchCV`` with one candidate (tau=1.0): the cost of
    cross-validating a single model, i.e. what scoring 21 taus instead of 1
    adds. Goal: at most 1.5x.
(c) Against one ``TauNormClassifier`` fit without cross-validation, for
    scale (no goal: 5 folds cost about 5 fits).
(d) A frozen (prefitted) base, the documented ``GridSearchCV`` pattern:
    ``TauNormClassifierCV(FrozenEstimator(base))`` against ``GridSearchCV``
    over ``TauNormClassifier(FrozenEstimator(base))``. Neither fits
    anything; the search predicts every fold once per tau, the CV head once
    per fold.

Each call takes seconds: one process, two values, no warm-up beyond a
small fit of both models in the setup.
"""

import warnings

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from benchmarks._harness import Case, main, make_features
from sklearn_lt import SoftmaxClassifier, TauNormClassifier, TauNormClassifierCV
from sklearn_lt.metrics import make_shot_scorer

TAUS = np.linspace(0, 2, 21)
CV = StratifiedKFold(5, shuffle=True, random_state=0)


def _base():
    return SoftmaxClassifier(max_iter=10, random_state=0)


def tau_cv(estimator):
    return TauNormClassifierCV(estimator, taus=TAUS, cv=CV, random_state=0)


def grid_search(estimator, taus):
    return GridSearchCV(TauNormClassifier(estimator, random_state=0), {"tau": list(taus)}, cv=CV,
                        scoring=make_shot_scorer("all"))


BASELINES = {
    "GridSearchCV TauNormClassifier (21 taus)": lambda: grid_search(_base(), TAUS),
    "GridSearchCV TauNormClassifier (1 tau)": lambda: grid_search(_base(), [1.0]),
    "one TauNormClassifier fit (no CV)": lambda: TauNormClassifier(_base(), random_state=0),
}


def _fit(model, X, y):
    with warnings.catch_warnings():
        # Long-tailed labels: the rarest classes have fewer members than folds.
        warnings.filterwarnings("ignore", message="The least populated class")
        return model.fit(X, y)


def _setup(baseline, n, d, c, device):
    X, y = make_features(n, d, c, device=device)
    X = X.numpy() if device.type == "cpu" else X
    _fit(tau_cv(_base()), X[:500], y[:500])  # first-call costs, untimed
    if baseline == "frozen":
        frozen = FrozenEstimator(_base().fit(X, y))
        ours, theirs = tau_cv(frozen), grid_search(frozen, TAUS)
    else:
        ours, theirs = tau_cv(_base()), BASELINES[baseline]()
    _fit(theirs, X[:500], y[:500])
    return lambda: _fit(ours, X, y), lambda: _fit(theirs, X, y)


def cases(quick, device):
    out = []
    # The 21-tau search refits the base 106 times: at the smaller size only.
    for n, d, c in [(2_000, 64, 20)] if quick else [(10_000, 512, 100), (100_000, 512, 100)]:
        size = {"N": n, "d": d, "C": c}
        for baseline, goal in [("GridSearchCV TauNormClassifier (21 taus)", 0.25),
                               ("GridSearchCV TauNormClassifier (1 tau)", 1.5),
                               ("one TauNormClassifier fit (no CV)", None)]:
            if n > 10_000 and "21" in baseline:
                continue
            out.append(Case("TauNormClassifierCV (21 taus)", size, baseline,
                            lambda a=(baseline, n, d, c): _setup(*a, device), goal=goal))
        out.append(Case("TauNormClassifierCV frozen base (21 taus)", size,
                        "GridSearchCV TauNormClassifier frozen base (21 taus)",
                        lambda a=("frozen", n, d, c): _setup(*a, device)))
    return out


if __name__ == "__main__":
    main(cases, processes=1, values=2, warmups=0, loops=1)
