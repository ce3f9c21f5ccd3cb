"""Root shim: `python predict.py key=value ...` is `trainlab predict key=value ...`."""

import sys

from trainlab.cli.main import main

if __name__ == "__main__":
    main(["predict", *sys.argv[1:]])
