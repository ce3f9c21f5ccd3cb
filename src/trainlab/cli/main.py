"""``trainlab <subcommand> key=value ...``: one command, a Hydra app per subcommand."""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = {
    "train": ("trainlab.cli.train", "train a model (one run, or a sweep with -m)"),
    "eval": ("trainlab.cli.evaluate", "evaluate a checkpoint on the test split"),
    "predict": ("trainlab.cli.predict", "predict with a checkpoint on new inputs"),
    "split": ("trainlab.cli.split", "split a class-folder data set into folds + test set"),
    "convert": ("trainlab.cli.convert", "convert MGF/mzML spectra into Lance tables"),
    "prior": ("trainlab.cli.prior", "estimate PU class priors per polarity from BCE checkpoints"),
    "cv": ("trainlab.cli.cv", "nested cross-validation, aggregation and final model (k-mer)"),
    "refit": ("trainlab.cli.refit", "retrain one config over several seeds (mean and std)"),
    "sweep": ("trainlab.cli.sweep", "status / wait <sweep folder>: follow a (detached) sweep"),
}


def usage() -> str:
    """The list of subcommands."""
    width = max(len(name) for name in SUBCOMMANDS)
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items())
    return (
        "usage: trainlab <subcommand> [key=value ...] [--help] [-m]\n"
        "       trainlab --version\n\n"
        f"subcommands:\n{rows}\n\n"
        "Each subcommand but sweep is a Hydra app: `trainlab train --help` lists its config "
        "groups."
    )


def main(argv: list[str] | None = None) -> None:
    """Dispatch to the subcommand's Hydra app."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return
    if args[0] in ("-V", "--version"):
        from trainlab import __version__

        print(f"trainlab {__version__}")
        return
    name = args[0]
    if name not in SUBCOMMANDS:
        print(f"trainlab: unknown subcommand {name!r}\n\n{usage()}", file=sys.stderr)
        raise SystemExit(2)
    from trainlab.cli.dotenv import load_dotenv
    from trainlab.errors import TrainlabError

    try:
        load_dotenv()  # before the subcommand's imports: they may read the environment
    except TrainlabError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    module = importlib.import_module(SUBCOMMANDS[name][0])
    sys.argv = [f"trainlab {name}", *args[1:]]
    module.main()


if __name__ == "__main__":
    main()
