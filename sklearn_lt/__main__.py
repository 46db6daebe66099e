"""Command line: ``sklearn-lt study`` / ``python -m sklearn_lt study``."""

import argparse
import sys
import warnings

from . import __version__

THREADS_HELP = (
    "torch CPU threads (default: %(default)s). One thread keeps stage one fast and steady "
    "on a small or shared machine, where a small network's threads mostly wait for each "
    "other; more can pay off for a larger network (resnet32 on CIFAR). Results are identical "
    "run to run for a given thread count; another count sums in another order, which can "
    "change the table in the third decimal and the tau chosen on validation"
)


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def main(argv=None):
    """Entry point of the ``sklearn-lt`` command."""
    parser = argparse.ArgumentParser(
        prog="sklearn-lt", description="Long-tailed recognition with scikit-learn estimators."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    study = commands.add_parser(
        "study",
        help="run the decoupling study (Kang et al. 2020) on a long-tailed dataset",
        description="Train stage one per seed, fit every stage-two head and the usual "
        "baselines on its frozen features, and report many/medium/few/all accuracy "
        "(mean ± std over seeds) as a table, CSV, JSON and figures.",
    )
    study.add_argument("--data", default="digits",
                       help="'digits' (the bundled digits-LT), a folder of CIFAR-10/100 "
                       "python pickles, a .npz file with X_train, y_train, X_test, y_test "
                       "(images; or 2-D features, which skip stage one), "
                       "or a .txt split list of image files in the ImageNet-LT format "
                       "('<path> <label>' per line; the test and val lists beside it) "
                       "for a pretrained stage one (default: %(default)s)")
    study.add_argument("--seeds", type=_positive_int, default=5,
                       help="number of seeds (default: %(default)s)")
    study.add_argument("--out", default="study_output",
                       help="output folder for results.csv, results.json and figures/ "
                       "(default: %(default)s)")
    study.add_argument("--epochs", type=_positive_int, default=30,
                       help="stage-one epochs (default: %(default)s)")
    study.add_argument("--module", default="convnet",
                       help="stage-one backbone: convnet, resnet32, a torchvision name... "
                       "(default: %(default)s)")
    study.add_argument("--backbone", default="efficientnet_lite0",
                       help="with a split list: the pretrained network of stage one, "
                       "frozen (efficientnet_lite0 ships offline; a timm:/torchvision: name "
                       "downloads) (default: %(default)s)")
    study.add_argument("--image-root", default=None,
                       help="with a split list: the folder its paths are relative to "
                       "(default: the list's folder)")
    study.add_argument("--cache-dir", default=None,
                       help="with a split list: where the pretrained features are cached "
                       "(default: none)")
    study.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    study.add_argument("--threads", type=_positive_int, default=1, help=THREADS_HELP)
    study.add_argument("--imbalance-ratio", type=float, default=None,
                       help="imbalance ratio (default: 50 for digits, 100 for CIFAR)")
    study.add_argument("--no-figures", action="store_true", help="skip the figures")
    study.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)

    from .study import run_study

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"sklearn-lt study: warning: {message}", file=sys.stderr)

    # A user error (a path, a file, a device, a missing optional package) is one
    # line and exit status 2, never a traceback; the package's errors say what
    # to change. OSError covers unreadable and missing files (PIL's included).
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            run_study(
                args.data, seeds=args.seeds, out=args.out, max_epochs=args.epochs,
                module=args.module, device=args.device, imbalance_ratio=args.imbalance_ratio,
                figures=not args.no_figures, verbose=0 if args.quiet else 1,
                threads=args.threads, backbone=args.backbone, image_root=args.image_root,
                cache_dir=args.cache_dir,
            )
    except (OSError, ValueError, ImportError) as exc:
        print(f"sklearn-lt study: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


def _one_line(exc):
    """The error's message on one line (OSError's own form names the path)."""
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
