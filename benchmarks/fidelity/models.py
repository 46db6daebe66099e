"""How the runner declares a model: :class:`Model` and :func:`head`.

A model of the suite is a row of the decoupling study
(:class:`sklearn_lt.study.StudyModel`) with the role the orderings give it: it
is built from the source's joint classifier and the seed (a
:class:`~sklearn_lt.study.StageOne`) and fitted on the source's frozen features
the study's way (:func:`~sklearn_lt.study.fit_on_training`,
:func:`~sklearn_lt.study.fit_with_validation_fold`). ``runner.MODELS`` lists
the models declaratively with these two helpers.
"""

from dataclasses import dataclass

from sklearn.frozen import FrozenEstimator

from sklearn_lt.study import StageOne, StudyModel, fit_on_training
from sklearn_lt.study._models import fit_study_model

__all__ = ["KINDS", "Model", "fit_model", "head"]

# joint: the source's own classifier, already fitted. base: an instance-balanced
# classifier trained here (the heads' default base). head: a stage-two head that
# rebalances; the orderings compare these with the joint classifier.
# baseline: what a practitioner would try instead of a head.
KINDS = ("joint", "base", "head", "baseline")


@dataclass(frozen=True)
class Model(StudyModel):
    """A model of the suite: a study row (name, build, fit) and its role.

    kind : one of :data:`KINDS`
    needs_joint : bool
        Skipped on a source without a joint classifier.
    """

    kind: str = "head"
    needs_joint: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}.")


def fit_model(model, d, seed):
    """``model`` built for the source's Bunch ``d`` and ``seed``, fitted as the study fits it."""
    return fit_study_model(model, StageOne(d.joint, seed), d)


def head(name, cls, *, base=None, kind="head", fit=fit_on_training, **params):
    """A model built as ``cls(**params)`` at its defaults, with ``random_state=seed``.

    ``base="joint"`` passes ``FrozenEstimator(joint)`` as the head's
    ``estimator`` (the rebalancing heads' stage-one classifier); ``None``
    leaves the head's default base. ``random_state`` is only set where the
    head has that parameter.
    """
    if base not in (None, "joint"):
        raise ValueError(f"base must be None or 'joint', got {base!r}.")
    seeded = "random_state" in cls().get_params()

    def build(stage):
        extra = {"random_state": stage.seed} if seeded else {}
        if base == "joint":
            extra["estimator"] = FrozenEstimator(stage.joint)
        return cls(**params, **extra)

    return Model(name, build, fit, kind=kind, needs_joint=base == "joint")
