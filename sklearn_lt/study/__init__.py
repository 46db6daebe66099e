"""The decoupling study (Kang et al. 2020, Table 2 style) on a long-tailed dataset.

Per seed: train stage one once (instance-balanced), freeze it, fit every
stage-two head and the baselines a practitioner would try instead on the same
features, and score each on the balanced test set per many/medium/few split.
Then report mean +- std over seeds, as a table, CSV, JSON and figures.

The rows are declared in :data:`DECOUPLING_MODELS`, a list of
:class:`StudyModel`: add one to study another head.
"""

from ._data import load_study_data
from ._models import (
    DECOUPLING_MODELS,
    RETRAINING_MODELS,
    StageOne,
    StudyModel,
    fit_on_training,
    fit_with_early_stopping,
    fit_with_validation_fold,
)
from ._output import format_table, study_figures, write_results
from ._run import run_study

__all__ = [
    "DECOUPLING_MODELS",
    "RETRAINING_MODELS",
    "StageOne",
    "StudyModel",
    "fit_on_training",
    "fit_with_early_stopping",
    "fit_with_validation_fold",
    "format_table",
    "load_study_data",
    "run_study",
    "study_figures",
    "write_results",
]
