"""Command line: ``sklearn-lt study`` / ``python -m sklearn_lt study``."""

import argparse
import sys


def main(argv=None):
    """Entry point of the ``sklearn-lt`` command."""
    parser = argparse.ArgumentParser(
        prog="sklearn-lt", description="Long-tailed recognition with scikit-learn estimators."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    study = commands.add_parser(
        "study",
        help="run the decoupling study (Kang et al. 2020) on a long-tailed dataset",
        description="Train stage one per seed, fit every stage-two head and the usual "
        "baselines on its frozen features, and report many/medium/few/all accuracy "
        "(mean ± std over seeds) as a table, CSV, JSON and figures.",
    )
    study.add_argument("--data", default="digits",
                       help="'digits' (bundled digits-LT, default), a folder of CIFAR-10/100 "
                       "python pickles, or a .npz file with X_train, y_train, X_test, y_test")
    study.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    study.add_argument("--out", default="study_output", help="output folder")
    study.add_argument("--epochs", type=int, default=30, help="stage-one epochs (default 30)")
    study.add_argument("--module", default="convnet",
                       help="stage-one backbone: convnet, resnet32, a torchvision name...")
    study.add_argument("--device", default="cpu", help="cpu or cuda")
    study.add_argument("--imbalance-ratio", type=float, default=None,
                       help="imbalance ratio (default 50 for digits, 100 for CIFAR)")
    study.add_argument("--no-figures", action="store_true", help="skip the figures")
    study.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)

    from .study import run_study

    try:
        run_study(
            args.data, seeds=args.seeds, out=args.out, max_epochs=args.epochs,
            module=args.module, device=args.device, imbalance_ratio=args.imbalance_ratio,
            figures=not args.no_figures, verbose=0 if args.quiet else 1,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"sklearn-lt study: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
