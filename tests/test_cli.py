"""The ``sklearn-lt`` command line: version, help text, option checks."""

import pytest
import torch

import sklearn_lt
from sklearn_lt.__main__ import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"sklearn-lt {sklearn_lt.__version__}"


def test_study_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["study", "--help"])
    # argparse wraps the help text: compare it with the line breaks removed
    help_text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: study_output)", "(default: 5)", "(default: 30)",
                    "(default: digits)", "(default: convnet)", "(default: cpu)",
                    "(default: 1)"):
        assert default in help_text
    assert "--threads" in help_text and "third decimal" in help_text


@pytest.mark.parametrize("option", ["--threads", "--seeds", "--epochs"])
@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_study_rejects_non_positive_counts(option, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["study", option, value])
    assert exit_.value.code == 2
    assert option in capsys.readouterr().err


def test_threads_apply_to_the_run_only(tmp_path):
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    assert main(["study", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path),
                 "--no-figures", "--quiet", "--threads", str(other)]) == 0
    assert torch.get_num_threads() == before
    assert (tmp_path / "results.json").exists()
