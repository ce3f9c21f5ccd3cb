"""The resolution of ``benchmarks/overhead.py``: the same plain loop timed against itself.

Builds the digits run exactly as ``overhead.py`` does (so the process holds the same data,
modules and allocations), then trains two copies of the freshly initialised network with the
plain loop, one step of each in turn (which copy goes first alternates), each with its own
optimizer and its own generator seeded alike. Both sides do identical work, so any median ratio
away from 1.000 is the benchmark's own bias in that process; the spread over several processes
is the smallest framework overhead ``overhead.py`` can tell apart from noise.

    PYTHONPATH=src python benchmarks/overhead_control.py --data-dir /tmp/ovh_data [--epochs 13]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import REPO, build_digits_run, plain_training_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=13)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=REPO / "data")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)

    import torch
    from torch.nn import functional as F

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="trainlab_overhead_control_") as tmp:
        cfg, parts = build_digits_run(Path(tmp) / "run", args)
        parts.datamodule.setup("fit")
        images, targets = plain_training_data(parts.datamodule)

    batch_size, lr = int(cfg.data.batch_size), float(cfg.model.optimizer.lr)
    sides = []
    for _ in range(2):
        net = copy.deepcopy(parts.model.net).train()
        optimizer = torch.optim.Adam(net.parameters(), lr=lr, fused=True)
        sides.append((net, optimizer, torch.Generator().manual_seed(cfg.seed)))

    def step(side: tuple, index: torch.Tensor) -> float:
        net, optimizer, _ = side
        start = time.process_time()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(net(images[index]), targets[index]).backward()
        optimizer.step()
        return time.process_time() - start

    ratios = []
    for epoch in range(args.epochs):
        orders = [torch.randperm(len(targets), generator=s[2]).split(batch_size) for s in sides]
        took = [0.0, 0.0]
        for i, (a, b) in enumerate(zip(*orders, strict=True)):
            pair = ((0, a), (1, b)) if i % 2 == 0 else ((1, b), (0, a))
            for which, index in pair:
                took[which] += step(sides[which], index)
        if epoch >= args.warmup:
            ratios.append(took[1] / took[0])
    ratio = statistics.median(ratios)
    print(" ".join(f"{r:.3f}" for r in ratios))
    print(f"median epoch-time ratio plain/plain (cpu): {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
