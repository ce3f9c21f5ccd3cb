"""Root shim: `python eval.py key=value ...` is `trainlab eval key=value ...`."""

import sys

from trainlab.cli.main import main

if __name__ == "__main__":
    main(["eval", *sys.argv[1:]])
