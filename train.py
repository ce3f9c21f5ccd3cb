"""Root shim: `python train.py key=value ...` is `trainlab train key=value ...`."""

import sys

from trainlab.cli.main import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
