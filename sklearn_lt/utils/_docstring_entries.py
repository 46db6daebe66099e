"""The docstring entries that several public objects share: their one home.

Each family is a mapping from placeholder key to :class:`DocEntry`, passed
to :class:`Substitution` by the objects that document those parameters::

    @Substitution(TRAINER_DOCS, n_epochs=TRAINER_DOCS["n_epochs"].override(default="30"))
    class SoftmaxClassifier(TrainedHead):
        '''...

        Parameters
        ----------
        %(n_epochs)s
        '''

An estimator whose default differs from the family's passes the entry with
that field overridden (:meth:`DocEntry.override`), under the same key; text
of its own goes on the lines under the placeholder. Measured accuracies go
to the estimator's Notes section, not into shared entries.
"""

from ._docstring import DocEntry

__all__ = [
    "ADJUSTED_ESTIMATOR",
    "DISPLAY_DOCS",
    "REBALANCED_ESTIMATOR",
    "SEARCH_CV_DOCS",
    "TRAINER_DOCS",
]

# The base classifier of the heads that start from one: rebalanced by
# tau-normalisation, LWS, LORT and re-training from the base...
REBALANCED_ESTIMATOR = DocEntry(
    "estimator",
    "estimator with ``coef_`` or None",
    default="None",
    description="""\
    The instance-balanced classifier to rebalance (Kang et al.'s joint
    classifier). ``None`` fits the default base,
    ``SoftmaxClassifier(fit_intercept=False, tol=1e-4)``, on the data given to
    ``fit`` (see :ref:`default-base`). A classifier is cloned and fitted
    on that data; wrap a prefit one (e.g. ``BackboneEmbedder``'s
    ``classifier_``) in :class:`sklearn.frozen.FrozenEstimator` to use it
    as it is. Binary models with one row ``w`` count as the rows
    ``(-w/2, w/2)``.""",
)

# ... and adjusted by logit adjustment, which removes the prior from the
# logits: its default base has a bias that can hold it.
ADJUSTED_ESTIMATOR = DocEntry(
    "estimator",
    "estimator with ``coef_`` or None",
    default="None",
    description="""\
    The classifier to adjust, trained on the long-tailed data. ``None``
    fits ``SoftmaxClassifier()``, with an intercept, on the data given
    to ``fit``. A classifier is cloned and fitted on that data; wrap a
    prefit one (e.g. ``BackboneEmbedder``'s ``classifier_``) in
    :class:`sklearn.frozen.FrozenEstimator` to use it as it is. Binary
    models with one row ``w`` count as the rows ``(-w/2, w/2)``.""",
)

# Parameters of the heads trained by the shared trainer (heads/_trainer.py).
# The defaults that differ between heads are left out: each head passes its
# own (``TRAINER_DOCS["lr"].override(default="1.0")``).
TRAINER_DOCS = {
    "estimator": REBALANCED_ESTIMATOR,
    "solver": DocEntry(
        "solver",
        '{"lbfgs", "sgd"}',
        """\
        ``"lbfgs"``: full-batch L-BFGS to convergence on the loss that the
        sampler gives in expectation (each class weighted by its sampling
        probability over its frequency), deterministic. ``"sgd"``: the
        papers' procedure, mini-batches drawn by the sampler each epoch, SGD
        with momentum, cosine learning rate.""",
    ),
    "sampler": DocEntry(
        "sampler",
        "PowerSampler",
        "The sampling ratio; ``None`` is instance-balanced (plain averaging).",
        default="None",
    ),
    "fit_intercept": DocEntry(
        "fit_intercept",
        "bool",
        "Learn a bias per class; ``False`` fixes it at 0.",
        default="True",
    ),
    "weight_decay": DocEntry(
        "weight_decay",
        "float >= 0",
        """\
        L2 penalty ``weight_decay / 2 * ||theta||**2`` on the trained
        parameters, in the normalised units of the features (divided by
        their RMS row norm); SGD applies it as weight decay.""",
    ),
    "max_iter": DocEntry(
        "max_iter", "int", 'Most L-BFGS iterations (``solver="lbfgs"``).', default="1000"
    ),
    "tol": DocEntry(
        "tol",
        "float",
        """\
        L-BFGS (``solver="lbfgs"``) stops after the first iteration at
        which no gradient entry of the objective (the weighted mean loss
        plus the penalty, weights in units of features divided by their RMS
        row norm) exceeds ``tol``, nor a tenth of the largest entry where
        the fit started, or at which the loss and weights no longer move in
        the features' precision (by less than 1e-12). scikit-learn's
        ``LogisticRegression`` stops on the first kind of rule alone
        (``tol=1e-4`` on the largest gradient entry of its mean loss). The
        entries shrink as the loss spreads over more classes: at 8,142
        classes a class-balanced fit starts below 1e-4, where the first
        rule alone would stop it before its first step; the second keeps it
        training.""",
        default="1e-6",
    ),
    "n_epochs": DocEntry(
        "n_epochs",
        "int",
        """\
        Passes over the data with ``solver="sgd"`` (an epoch has as many
        rows as the training set).""",
    ),
    "batch_size": DocEntry(
        "batch_size",
        'int or "auto"',
        """\
        Rows per SGD step; ``"auto"`` is ``min(512, max(32, n_samples //
        16))`` (512 is the official batch of cRT and LWS; small sets get at
        least 16 steps per epoch).""",
        default='"auto"',
    ),
    "lr": DocEntry(
        "lr",
        "float",
        """\
        Initial SGD learning rate, in the normalised units of the features,
        annealed to zero by a per-epoch cosine.""",
    ),
    "momentum": DocEntry("momentum", "float", "SGD momentum.", default="0.9"),
    "cosine_step": DocEntry(
        "cosine_step",
        '{"after_epoch", "before_epoch"}',
        """\
        When the per-epoch cosine steps (``solver="sgd"``): after each
        epoch, the first one running at ``lr``; or before each one, as the
        official cRT and LWS loop (``scheduler.step()`` at the start of every
        epoch of ``run_networks.py``'s ``train``) and LTR-weight-balancing's
        stage two: the first epoch already runs below ``lr``, the last one
        at 0.""",
        default='"after_epoch"',
    ),
    "device": DocEntry(
        "device",
        "str or torch.device",
        "Where to train; ``None`` trains on the input's device (CPU for numpy).",
        default="None",
    ),
    "random_state": DocEntry(
        "random_state",
        "int, RandomState instance or None",
        "Seeds the initial weights and the sampler's draws.",
        default="None",
    ),
    "verbose": DocEntry(
        "verbose",
        "int",
        "Print the loss of each epoch (or L-BFGS's result) when positive.",
        default="0",
    ),
}

# Parameters and attributes of the CV heads (heads/_cv.py).
SEARCH_CV_DOCS = {
    "estimator": REBALANCED_ESTIMATOR,
    "cv": DocEntry(
        "cv",
        "int, cross-validation generator or iterable",
        """\
        As in :func:`~sklearn.model_selection.check_cv` (an int gives
        stratified folds); a group splitter such as
        :class:`~sklearn.model_selection.GroupKFold` reads the ``groups``
        given to ``fit``.""",
        default="5",
    ),
    "scoring": DocEntry(
        "scoring",
        "str, callable or None",
        """\
        What "best" means:

        - ``None`` or ``"all"``: mean per-class (balanced) accuracy on the
          validation fold, computed from the logits (numpy or torch alike);
        - ``"many"``, ``"medium"``, ``"few"``: the accuracy of that shot split
          (see :func:`sklearn_lt.metrics.shot_accuracy`), classes split by the
          fold's training counts with ``many_threshold``/``few_threshold``;
        - any other scikit-learn scorer name, or a callable
          ``scorer(estimator, X, y)`` (e.g. from
          :func:`sklearn_lt.metrics.make_shot_scorer`): called once per
          candidate and fold, on numpy data, with the fixed head of that
          candidate holding that fold's weights (nothing is refitted).""",
        default="None",
    ),
    "random_state": DocEntry(
        "random_state",
        "int, RandomState instance or None",
        """\
        Seeds the default base of every fold and of the final fit, as the
        fixed head does. Folds are not shuffled (pass a shuffling splitter
        as ``cv`` for that).""",
        default="None",
    ),
    "device": DocEntry(
        "device",
        "str or torch.device",
        "Where to compute; ``None`` uses the input's device.",
        default="None",
    ),
    "thresholds": [
        DocEntry("many_threshold", "float >= 0 or None", "", default="None"),
        DocEntry(
            "few_threshold",
            "float >= 0 or None",
            """\
            Split thresholds for ``scoring="many"|"medium"|"few"``. ``None``
            means the defaults of :class:`~sklearn_lt.metrics.ClassCounts`
            and of the metrics, 100 and 20.""",
            default="None",
        ),
    ],
    "search_attributes": [
        DocEntry(
            "best_score_",
            "float",
            """\
            The mean validation score of the chosen candidate, the best; ties go
            to the first candidate. A fold whose score is undefined (a shot split
            without any class in that validation fold, with an
            :class:`~sklearn_lt.metrics.UndefinedSplitWarning`) is left out of
            the means, where ``GridSearchCV`` would give NaN.""",
        ),
        DocEntry(
            "best_index_",
            "int",
            "Its position among the candidates (the rows of ``cv_results_``).",
        ),
        DocEntry(
            "cv_results_",
            "dict of ndarray",
            """\
            As in :class:`~sklearn.model_selection.GridSearchCV`:
            ``param_<name>`` for each searched parameter, ``params``,
            ``split{k}_test_score``, ``mean_test_score``, ``std_test_score`` and
            ``rank_test_score``.""",
        ),
        DocEntry("n_splits_", "int", "The number of folds."),
        DocEntry("estimator_", "estimator", "The base classifier fitted on all the data."),
    ],
}

# Parameters of the Displays (plotting/), in their classes and their methods alike.
DISPLAY_DOCS = {
    "class_counts": [
        DocEntry(
            "class_counts",
            "array-like of shape (n_classes,), dict or ClassCounts",
            """\
            Training samples per class (before resampling): the x order. A
            :class:`~sklearn_lt.metrics.ClassCounts` brings its thresholds.""",
        ),
        DocEntry(
            "classes",
            "array-like of shape (n_classes,)",
            """\
            Class labels; ``None`` is ``0 .. n_classes - 1`` for an array of counts,
            the sorted labels of a dict or ``ClassCounts``.""",
            default="None",
        ),
    ],
    "estimator_counts": DocEntry(
        "class_counts",
        "ClassCounts, dict or array-like",
        """\
        Training samples per class (before resampling): a
        :class:`~sklearn_lt.metrics.ClassCounts` (with its thresholds), a dict
        ``{label: count}`` or an array aligned with ``classes_``. ``None`` reads
        the counts the estimators recorded
        (:func:`~sklearn_lt.metrics.training_class_counts`; several must agree).""",
        default="None",
    ),
    "thresholds": [
        DocEntry("many_threshold", "float", "", default="None"),
        DocEntry(
            "few_threshold",
            "float",
            """\
            Thresholds of the shot splits. ``None`` means the defaults of
            :class:`~sklearn_lt.metrics.ClassCounts`, 100 and 20, or the
            thresholds of a :class:`~sklearn_lt.metrics.ClassCounts` given as
            ``class_counts``.""",
            default="None",
        ),
    ],
}
