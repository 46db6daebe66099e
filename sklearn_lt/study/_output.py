"""The study's files: the table (text, CSV, JSON) and its figures, all over every seed."""

import csv
import json
import textwrap
import warnings
from pathlib import Path

import numpy as np

from ._models import SPLITS, TAUS

__all__ = ["format_table", "study_figures", "write_results"]

# Digits kept in results.json (and the CSV): accuracies over a few hundred
# test images are not known beyond the fourth decimal.
_DIGITS = 4


def _rounded(value):
    """JSON-ready ``value`` with floats rounded (numpy scalars and arrays included)."""
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_rounded(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return round(float(value), _DIGITS)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _rows(table):
    return [
        f"{name:<20}" + "".join(f"{row[s][0]:>9.3f} ± {row[s][1]:.3f}" for s in SPLITS)
        for name, row in table.items()
    ]


def format_table(result, *, timing=True):
    """The paper-style tables: many / medium / few / all, mean +- std over seeds.

    What ``run_study`` prints and writes to ``results.txt``.

    Parameters
    ----------
    result : Bunch
        What :func:`run_study` returned.
    timing : bool, default=True
        End with the run time; ``False`` leaves it out (the one line that
        changes from run to run).

    Returns
    -------
    str
        The decoupling table, the validation tau sweep and the chosen taus,
        then the re-training methods' table when the run had one.
    """
    many, few = result.shot_thresholds
    header = f"{'model':<20}" + "".join(f"{s:>16}" for s in SPLITS)
    lines = [
        f"{result.dataset}, {len(result.seeds)} seeds; top-1 accuracy on the balanced test "
        f"set (many: > {many} training images, few: < {few})",
        *textwrap.wrap(result.get("stage_one") or "", width=100),
        header,
        *_rows(result.table),
    ]
    if result.chosen_tau and result.chosen_tau[0] is not None:
        lines.append("tau-norm on the validation set by tau (the trade-off tau is chosen from):")
        for tau, row in result.val_sweep.items():
            if np.isclose(tau * 2, round(tau * 2)):
                lines.append(
                    f"  tau {tau:<4g}" + "".join(f"  {s} {row[s][0]:.3f}" for s in SPLITS)
                )
        lines.append(f"chosen tau per seed: {result.chosen_tau}")
    if result.retraining_table:
        lines += [
            "",
            *textwrap.wrap(
                "Classifier re-training methods on the same frozen features (LORT's Table 1 "
                "layout; starting from the joint classifier where a method starts from one):",
                width=100,
            ),
            header,
            *_rows(result.retraining_table),
        ]
    if timing:
        lines.append(f"{result.seconds:.0f} s in all")
    return "\n".join(lines)


def write_results(result, out, *, figures=True):
    """Write ``results.{txt,csv,json}`` and, with ``figures``, ``figures/*.png``.

    What ``run_study`` writes to its ``out`` folder; without matplotlib, the
    figures are skipped with a warning that names the extra to install.

    Parameters
    ----------
    result : Bunch
        What :func:`run_study` returned.
    out : str or path
        The folder, created if needed.
    figures : bool, default=True
        Draw the figures of :func:`study_figures` as PNG files.

    Returns
    -------
    list of str
        The files written, relative to ``out``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model"] + [f"{s}_{k}" for s in SPLITS for k in ("mean", "std")])
        for name, row in result.table.items():
            writer.writerow([name] + [f"{v:.{_DIGITS}f}" for s in SPLITS for v in row[s]])
    payload = {
        "dataset": result.dataset,
        "stage_one": result.get("stage_one"),
        "seeds": result.seeds,
        "shot_thresholds": result.shot_thresholds,
        "class_counts": result.class_counts.as_dict(),
        "table": {
            name: {s: {"mean": m, "std": sd} for s, (m, sd) in row.items()}
            for name, row in result.table.items()
        },
        "retraining_table": {
            name: {s: {"mean": m, "std": sd} for s, (m, sd) in row.items()}
            for name, row in result.retraining_table.items()
        },
        "per_seed": result.per_seed,
        "chosen_tau": result.chosen_tau,
        "validation_tau_sweep": [
            {"tau": tau, **{s: {"mean": m, "std": sd} for s, (m, sd) in row.items()}}
            for tau, row in result.val_sweep.items()
        ],
        "seconds": result.seconds,
    }
    (out / "results.json").write_text(json.dumps(_rounded(payload), indent=2))
    (out / "results.txt").write_text(format_table(result) + "\n")
    written = ["results.csv", "results.json", "results.txt"]
    if figures:
        written += _save_figures(result, out / "figures")
    return written


def study_figures(result):
    """The study's figures as Display objects, every one a mean over the seeds.

    Needs matplotlib (the ``plot`` extra).

    Parameters
    ----------
    result : Bunch
        What :func:`run_study` returned.

    Returns
    -------
    dict of str to Display
        - ``shot_accuracy``: the table as bars, with one standard deviation
          (:class:`~sklearn_lt.plotting.ShotAccuracyDisplay`);
        - ``tau_sweep``: tau-normalisation of the joint classifier on the
          *validation* set (where tau is chosen), mean and spread over seeds
          (:class:`~sklearn_lt.plotting.TauSweepDisplay`);
        - ``weight_norms`` and ``logits_magnitude``: per class, averaged over
          the seeds (the logits on the test set, as the LORT paper measures
          them).
    """
    from ..plotting import (
        LogitsMagnitudeDisplay,
        ShotAccuracyDisplay,
        TauSweepDisplay,
        WeightNormDisplay,
    )

    n = len(result.seeds)
    counts = result.class_counts
    shots = ShotAccuracyDisplay(
        {name: {s: row[s][0] for s in SPLITS} for name, row in result.table.items()},
        std={name: {s: row[s][1] for s in SPLITS} for name, row in result.table.items()},
        n_classes_per_split={s: int(np.sum(counts.splits() == s)) for s in SPLITS[:-1]},
    ).plot()
    shots.ax_.set_title(f"{result.dataset}: test accuracy per shot split ({n} seeds)")
    sweep = TauSweepDisplay(
        TAUS,
        {s: [row[s][0] for row in result.val_sweep.values()] for s in SPLITS},
        std={s: [row[s][1] for row in result.val_sweep.values()] for s in SPLITS},
        name="joint classifier",
        ylabel="Validation accuracy",
    ).plot()
    chosen = ", ".join(f"{t:g}" for t in result.chosen_tau)
    sweep.ax_.set_title(
        f"tau-norm on the validation set ({n} seeds, ± 1 std); chosen tau: {chosen}",
        fontsize="medium",
    )
    norms = WeightNormDisplay(
        result.weight_norms, counts.counts, classes=counts.classes,
        many_threshold=counts.many_threshold, few_threshold=counts.few_threshold,
    ).plot()
    norms.ax_.set_title(f"Weight norm per class (mean of {n} seeds)")
    magnitudes = LogitsMagnitudeDisplay(
        result.logits_magnitude, counts.counts, classes=counts.classes,
        many_threshold=counts.many_threshold, few_threshold=counts.few_threshold,
    ).plot()
    magnitudes.ax_.set_title(f"Logits magnitude per class, test set (mean of {n} seeds)")
    return {
        "shot_accuracy": shots,
        "tau_sweep": sweep,
        "weight_norms": norms,
        "logits_magnitude": magnitudes,
    }


def _save_figures(result, folder):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        warnings.warn(
            "matplotlib is not installed: the study wrote its tables but no figures. "
            "Install the plot extra (`pip install -e \".[plot]\"` in a clone of sklearn-lt) "
            "for figures/*.png, or pass figures=False (--no-figures) to skip them quietly.",
            UserWarning,
            stacklevel=3,
        )
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, display in study_figures(result).items():
        display.figure_.savefig(folder / f"{name}.png", dpi=110)
        plt.close(display.figure_)
        written.append(f"figures/{name}.png")
    return written
