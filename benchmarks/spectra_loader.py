"""Is the spectra loader ever the bottleneck? Side by side, on the same synthetic data:

1. random batches fetched with Lance ``take`` vs the same rows from Parquet
   (``pyarrow.dataset.take``), the raw table reads;
2. spectra per second through ``SpectraDataModule`` (one take per batch, padding, tensors);
3. spectra per second of training steps (forward, backward, AdamW) of the spectrum
   transformer at the production size and at a small size.

    PYTHONPATH=src python benchmarks/spectra_loader.py [--rows 8192] [--batch 256] [--json out.json]

The loader keeps up when (2) is well above (3).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def rate(fn, items_per_call: int, seconds: float = 3.0, min_calls: int = 3) -> float:
    """Items per second of ``fn`` over at least ``seconds`` and ``min_calls`` calls."""
    fn()  # warm up: open files, fill caches
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls * items_per_call / (time.perf_counter() - start)


def make_data(folder: Path, rows: int, seed: int) -> tuple[Path, Path]:
    """A synthetic spectra root (Lance) and the same train table as one Parquet file."""
    import lance
    import pyarrow.parquet as pq

    from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra

    spec = SyntheticSpec(
        n_train=rows, n_validation=256, n_test=0, min_peaks=50, max_peaks=400, seed=seed
    )
    generate_spectra(folder / "root", spec)
    parquet = folder / "train_data.parquet"
    pq.write_table(lance.dataset(str(folder / "root" / "train_data")).to_table(), parquet)
    return folder / "root", parquet


def table_reads(root: Path, parquet: Path, batch: int, rows: int) -> dict[str, float]:
    """Spectra/s of random batches: Lance take vs pyarrow.dataset take on Parquet."""
    import lance
    import pyarrow.dataset as pads

    from trainlab.data.spectra.loading import BATCH_COLUMNS

    lance_ds = lance.dataset(str(root / "train_data"))
    parquet_ds = pads.dataset(str(parquet), format="parquet")
    rng = np.random.default_rng(0)

    def indices() -> np.ndarray:
        return np.sort(rng.choice(rows, size=batch, replace=False))

    return {
        "lance_take": rate(lambda: lance_ds.take(indices(), columns=BATCH_COLUMNS), batch),
        "parquet_take": rate(lambda: parquet_ds.take(indices(), columns=BATCH_COLUMNS), batch),
    }


def datamodule_rate(root: Path, batch: int, workers: int) -> float:
    """Spectra/s of one shuffled epoch through SpectraDataModule's train loader."""
    from trainlab.data.spectra.datamodule import SpectraDataModule

    dm = SpectraDataModule(
        str(root),
        batch_size=batch,
        synthetic=None,
        loader={
            "num_workers": workers,
            "persistent_workers": workers > 0,
            "prefetch_factor": 4 if workers else None,
        },
    )
    dm.setup("fit")
    loader = dm.train_dataloader()
    n = len(dm.datasets["train"])

    def epoch() -> None:
        for _ in loader:
            pass

    return rate(epoch, n, seconds=3.0, min_calls=2)


def training_rate(root: Path, batch: int, size: dict, steps: int) -> float:
    """Spectra/s of training steps of the spectrum transformer on real batches."""
    from trainlab.data.spectra.datamodule import SpectraDataModule
    from trainlab.nets.spectrum_transformer import SpectrumTransformer

    dm = SpectraDataModule(str(root), batch_size=batch, synthetic=None, loader={"num_workers": 0})
    dm.setup("fit")
    batches = [b for _, b in zip(range(steps), dm.train_dataloader(), strict=False)]
    torch.manual_seed(0)
    net = SpectrumTransformer(**size)
    optimizer = torch.optim.AdamW(net.parameter_groups(5e-6, 1e-5, 1e-3))
    position = {"i": 0}

    def step() -> None:
        b = batches[position["i"] % len(batches)]
        position["i"] += 1
        logits = net(b["mz"], b["intensity"], b["precursor_mz"], b["instrument_settings"])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, b["label"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return rate(step, batch, seconds=2.0, min_calls=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, object] = {
        "rows": args.rows,
        "batch": args.batch,
        "peaks_per_spectrum": "50-400",
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        root, parquet = make_data(Path(tmp), args.rows, seed=0)
        results["table_reads_spectra_per_s"] = table_reads(root, parquet, args.batch, args.rows)
        results["datamodule_spectra_per_s"] = {
            f"workers={w}": datamodule_rate(root, args.batch, w) for w in args.workers
        }
        sizes = {
            "production (d_model 128, 2 layers, ff 512)": dict(
                d_model=128, nhead=8, dim_feedforward=512, n_layers=2, dropout=0.3
            ),
            "small (d_model 32, 1 layer, ff 64)": dict(
                d_model=32, nhead=4, dim_feedforward=64, n_layers=1, dropout=0.3
            ),
        }
        results["training_spectra_per_s"] = {
            name: training_rate(root, args.batch, size, steps=4) for name, size in sizes.items()
        }
    results["load_average_at_end"] = os.getloadavg()[0]
    width = 48
    print(f"{'spectra per second':<{width}} value")
    for group in ("table_reads", "datamodule", "training"):
        for name, value in results[f"{group}_spectra_per_s"].items():
            print(f"{group + ': ' + name:<{width}} {value:,.0f}")
    train_best = max(results["training_spectra_per_s"].values())
    loader_worst = min(results["datamodule_spectra_per_s"].values())
    print(f"loader / fastest training: {loader_worst / train_best:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
