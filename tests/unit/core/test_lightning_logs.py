"""Lightning's messages reach the console once: through the run's handlers, not its own."""

import subprocess
import sys

from tests.conftest import REPO

# Lightning installs its own stderr handlers only when the root logger has none at import
# time, as in a fresh `trainlab` process (not under pytest, whose handlers are there first).
SCRIPT = """
import logging, sys
import lightning.pytorch
from trainlab.core.train import route_lightning_logs
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("run: %(message)s"))
logging.getLogger().addHandler(handler)
route_lightning_logs()
logging.getLogger("lightning.pytorch.utilities.rank_zero").warning("GPU available: False")
logging.getLogger("lightning.fabric.utilities").warning("a fabric message")
"""


def test_lightning_messages_are_printed_once() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["run: GPU available: False", "run: a fabric message"]
    assert "GPU available" not in result.stderr and "fabric message" not in result.stderr
