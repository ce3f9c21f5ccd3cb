"""The k-mer pipeline at the real scale: parse, memory, MLP epoch vs its FLOP floor, CV projection.

All data here is SYNTHETIC: a MUSET ``unitigs.frac.mat`` of ``--features`` unitig rows x
``--rows`` sample columns (default 107,000 x 3,070, the size of the researchers' matrix), written
to a temporary folder with its ``kmer_matrix/kmtricks.fof`` and a ``metadata.tsv`` in exactly the
formats ``trainlab.data.kmer`` reads. Values: a share ``--zero-fraction`` (0.45) of exact zeros,
the rest uniform fractions in [0.02, 1] with four decimals (``0.5123``), about 4.75 bytes per value,
so the default file is ~1.56 GB (the real one is ~1.6 GB). Labels are random draws over the
synthetic data set's classes (2/6/12/14 per task) in 30 projects: only times are measured.

Measured, in order:

1. **Parse**: trainlab's reader (``load_matrix``: SHA-256 fingerprint, pandas C parser in 64 MB
   chunks, transposed into the float32 ``.npy`` cache) in a fresh child process. Throughput is
   the file's size over the wall time (MB/s, 1 MB = 1e6 bytes), for the hash pass alone and for
   the whole first load. Peak memory is that process's ``resource.getrusage(RUSAGE_SELF)
   .ru_maxrss`` (OS-level peak resident set, so it includes the pages of the memory-mapped
   cache written so far), beside its resident set after imports and the file size.
2. **CPU matmul rate**: the best of 5 ``torch.mm`` of two 2048 x 2048 float32 matrices at
   ``--threads`` (default 1, as ``cv.torch_threads``), 2 * 2048^3 FLOP each.
3. **MLP epoch vs FLOP floor**: the default k-mer model (``configs/model/multitask_mlp.yaml``:
   MultitaskMLP 2 x [256, 128], batch norm, dropout 0.3, one head per task; fused Adam; batch
   ``data.batch_size`` = 64) trained for one epoch over all rows in a plain PyTorch loop (median
   of ``--epochs`` epochs after one warm-up), and forward+backward alone (no optimizer step).
   FLOPs count the Linear layers only, 2 per multiply-add: forward F = rows * 2 * sum(in*out);
   training = F (forward) + F (weight gradients) + F minus the first layer's share (input
   gradients: none for the input itself); the conventional 3F is printed too. Floor =
   training FLOPs / the measured matmul rate; printed ratio = measured epoch / floor.
4. **trainlab trial epoch**: one inner split of outer fold 0 (train ~54 %, validation ~25 % of
   the rows) fitted by ``fit_rows`` in the lean loop for ``--trial-epochs`` epochs, exactly what
   each search trial of ``trainlab cv`` runs (validation and weighted F1 every epoch included);
   seconds per epoch = fit time / epochs.

**Projection of the nested CV** (5 outer folds x 50 trials x 3 inner splits, ``--epochs-per-fit``
epochs per fit, default 60 as the ASSUMED mean stop of early stopping with patience 20 and at
most 200 epochs; 200 gives the upper bound, printed too; no pruning):
fits = 5 * 50 * 3 inner fits at the measured trial epoch cost, plus 5 outer retrains and one
final model, whose per-epoch cost is the trial's scaled by their row counts (outer train 80 %,
final 100 %); CPU time = epochs * sum of those per-epoch costs. GPU time = CPU time * (measured
CPU matmul FLOP/s / ``--gpu-flops``), i.e. the GPU is assumed to reach the same share of its
peak as this CPU does of its matmul rate; default 989e12, the dense bf16 tensor figure of the
H100/H200 SXM spec sheets (the default GPU precision is bf16-mixed). A step on a GPU cannot be
shorter than its Python and kernel-launch time, so a second GPU figure adds, per training step,
the measured CPU time of one step of the same MLP with 64 input features (its FLOPs are
negligible: the dispatch cost of the step) and, per fit, the same for each validation batch.

    python benchmarks/kmer_scale.py                      # real scale, a few minutes
    python benchmarks/kmer_scale.py --rows 600 --features 20000 --epochs 2   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TASK_CLASSES = {"sample_type": 2, "community_type": 6, "sample_host": 12, "material": 14}
N_FOLDS, N_TRIALS, N_INNER = 5, 50, 3


# ------------------------------------------------------------------ the synthetic files
def write_muset(
    out: Path, n_samples: int, n_features: int, zero_fraction: float, seed: int = 0
) -> dict[str, Path]:
    """Write unitigs.frac.mat, kmer_matrix/kmtricks.fof and metadata.tsv (SYNTHETIC)."""
    rng = np.random.default_rng(seed)
    (out / "kmer_matrix").mkdir(parents=True, exist_ok=True)
    ids = [f"ERR{9_000_000 + i}" for i in range(n_samples)]
    paths = {
        "matrix": out / "unitigs.frac.mat",
        "fof": out / "kmer_matrix" / "kmtricks.fof",
        "metadata": out / "metadata.tsv",
    }
    paths["fof"].write_text("".join(f"{s} : /data/reads/{s}_1.fastq.gz\n" for s in ids))
    lines = ["Run_accession\tproject\t" + "\t".join(TASK_CLASSES)]
    project = rng.integers(0, 30, n_samples)
    for i, sample in enumerate(ids):
        labels = [f"{task}_{rng.integers(0, k)}" for task, k in TASK_CLASSES.items()]
        lines.append(f"{sample}\tPRJ{project[i]:03d}\t" + "\t".join(labels))
    paths["metadata"].write_text("\n".join(lines) + "\n")
    # a value is one of 10,001 strings: "0" or a fraction with four decimals
    table = np.array(["0"] + [f"{q / 10000:.4f}" for q in range(1, 10001)], dtype=object)
    with open(paths["matrix"], "w") as handle:
        for start in range(0, n_features, 1000):
            rows = min(1000, n_features - start)
            q = rng.integers(200, 10001, size=(rows, n_samples), dtype=np.int32)
            q[rng.random((rows, n_samples)) < zero_fraction] = 0
            text = (f"{start + r} " + " ".join(cells) for r, cells in enumerate(table[q].tolist()))
            handle.write("\n".join(text) + "\n")
    return paths


# ------------------------------------------------------------------ 1. parse (child process)
def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def parse_child(matrix: str, fof: str, cache_dir: str) -> None:
    """Runs in a fresh process: time trainlab's reader, report its peak RSS as JSON."""
    from trainlab.data.kmer import cache
    from trainlab.data.kmer.matrix import load_matrix

    after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    cache.fingerprint(matrix)
    hashed = time.perf_counter() - start
    start = time.perf_counter()
    loaded = load_matrix(matrix, fof, cache_dir)
    first_load = time.perf_counter() - start
    result = {
        "hash_s": hashed,
        "first_load_s": first_load,
        "shape": list(loaded.values.shape),
        "rss_after_imports_mb": after_imports,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_anon_end_mb": _rss_mb("RssAnon"),
        "rss_file_end_mb": _rss_mb("RssFile"),
    }
    print(json.dumps(result))


def measure_parse(paths: dict[str, Path], cache_dir: Path) -> dict:
    size = paths["matrix"].stat().st_size
    args = [sys.executable, __file__, "--parse-child"]
    args += [str(paths["matrix"]), str(paths["fof"]), str(cache_dir)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"parse child failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["file_mb"] = size / 1e6
    result["hash_mb_s"] = size / 1e6 / result["hash_s"]
    result["first_load_mb_s"] = size / 1e6 / result["first_load_s"]
    result["parse_only_mb_s"] = size / 1e6 / (result["first_load_s"] - result["hash_s"])
    result["peak_rss_over_file"] = result["peak_rss_mb"] / result["file_mb"]
    return result


# ------------------------------------------------------------------ 2. matmul rate
def matmul_flops(n: int = 2048, repeats: int = 5) -> float:
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


# ------------------------------------------------------------------ 3. MLP epoch and FLOPs
def linear_shapes(net) -> list[tuple[int, int]]:
    from torch import nn

    return [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)]


def training_flops(shapes: list[tuple[int, int]], rows: int) -> dict[str, float]:
    """Forward, exact training (no input gradient of the first layer) and 3x forward FLOPs."""
    forward = rows * 2 * sum(i * o for i, o in shapes)
    first = rows * 2 * shapes[0][0] * shapes[0][1]
    return {"forward": forward, "training": 3 * forward - first, "three_forward": 3 * forward}


def build_net(cfg, in_features: int, tasks: dict):
    from trainlab.nets.mlp import MultitaskMLP

    net_cfg = cfg.model.net
    return MultitaskMLP(
        in_features,
        tasks,
        n_layers=net_cfg.n_layers,
        hidden_dims=list(net_cfg.hidden_dims),
        dropout=net_cfg.dropout,
        batch_norm=net_cfg.batch_norm,
        activation=net_cfg.activation,
    )


def plain_epochs(cfg, x, y, tasks: dict, epochs: int, optimizer_step: bool) -> list[float]:
    """Seconds per epoch of a plain loop over all rows (one warm-up epoch left out)."""
    import torch
    from torch.nn import functional as F

    torch.manual_seed(0)
    net = build_net(cfg, x.shape[1], tasks)
    opt = cfg.model.optimizer
    optimizer = torch.optim.Adam(
        net.parameters(), lr=opt.lr, weight_decay=opt.weight_decay, fused=True
    )
    batch_size, n = int(cfg.data.batch_size), len(x)
    generator = torch.Generator().manual_seed(0)
    times = []
    for _ in range(epochs + 1):
        net.train()
        start = time.perf_counter()
        for index in torch.randperm(n, generator=generator).split(batch_size):
            if len(index) < 2:  # BatchNorm needs two rows
                continue
            logits = net(x.index_select(0, index))
            target = y.index_select(0, index)
            loss = sum(
                F.cross_entropy(logits[t], target[:, j], ignore_index=-1)
                for j, t in enumerate(tasks)
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if optimizer_step:
                optimizer.step()
        times.append(time.perf_counter() - start)
    return times[1:]


def dispatch_step_s(cfg, tasks: dict, repeats: int = 200) -> float:
    """Median time of one training step of the same MLP on 64 features: its fixed cost."""
    import torch

    x = torch.randn(int(cfg.data.batch_size), 64)
    y = torch.stack([torch.randint(0, k, (len(x),)) for k in TASK_CLASSES.values()], 1)
    times = plain_epochs(cfg, x.repeat(repeats, 1), y.repeat(repeats, 1), tasks, 1, True)
    return times[0] / repeats


# ------------------------------------------------------------------ 4. trainlab trial epoch
def trial_epoch(cfg, datamodule, epochs: int) -> dict:
    from trainlab.core.lean_fit import freeze_long_lived_objects
    from trainlab.data.kmer.folds import kfold_splits, outer_folds
    from trainlab.pipelines.kmer_cv.fit import fit_rows, trial_config

    data = datamodule.load()
    strata = datamodule.strata()
    outer_train, _ = outer_folds(strata, N_FOLDS, cfg.cv.seed, data.groups)[0]
    train, val = kfold_splits(outer_train, strata, N_INNER, cfg.cv.seed, data.groups)[0]
    freeze_long_lived_objects()
    trial_cfg = trial_config(cfg, {})
    start = time.perf_counter()
    fit_rows(trial_cfg, datamodule, train, val, max_epochs=epochs, patience=epochs + 1, lean=True)
    seconds = time.perf_counter() - start
    return {"rows_train": len(train), "rows_val": len(val), "epochs": epochs,
            "s_per_epoch": seconds / epochs}  # fmt: skip


# ------------------------------------------------------------------ projection
def project(trial: dict, n_rows: int, epochs: int, gpu_scale: float, dispatch_s: float,
            batch_size: int, eval_batch: int) -> dict:  # fmt: skip
    """Nested CV seconds on this CPU and on the GPU (see the module docstring)."""
    per_row = trial["s_per_epoch"] / (trial["rows_train"] + trial["rows_val"])
    fits = N_FOLDS * N_TRIALS * N_INNER
    inner_epoch = trial["s_per_epoch"]
    retrain_rows, final_rows = 0.8 * n_rows, float(n_rows)
    cpu = epochs * (fits * inner_epoch + N_FOLDS * retrain_rows * per_row + final_rows * per_row)

    def steps(train_rows: float, val_rows: float) -> float:
        return -(-train_rows // batch_size) + -(-val_rows // eval_batch)

    all_steps = epochs * (
        fits * steps(trial["rows_train"], trial["rows_val"])
        + N_FOLDS * steps(0.9 * retrain_rows, 0.1 * retrain_rows)
        + steps(0.9 * final_rows, 0.1 * final_rows)
    )
    gpu = cpu * gpu_scale
    return {"epochs_per_fit": epochs, "fits": fits, "cpu_s": cpu, "gpu_flop_scaled_s": gpu,
            "gpu_with_dispatch_s": gpu + all_steps * dispatch_s}  # fmt: skip


def _compose(data_dir: Path, work: Path, overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from trainlab.cli.app import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose(
            "cv",
            overrides=[
                "experiment=kmer/diana",
                f"data.matrix_path={data_dir / 'unitigs.frac.mat'}",
                f"data.metadata_path={data_dir / 'metadata.tsv'}",
                "data.synthetic=null",
                "trainer.accelerator=cpu",
                f"paths.data_dir={data_dir}",
                f"paths.root_dir={work}",
                f"paths.work_dir={work}",
                f"paths.output_dir={work}",
                *overrides,
            ],
        )


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:8.2f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3070, help="samples (matrix columns)")
    parser.add_argument("--features", type=int, default=107_000, help="unitigs (matrix rows)")
    parser.add_argument("--zero-fraction", type=float, default=0.45)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (cv default 1)")
    parser.add_argument("--epochs", type=int, default=2, help="timed plain epochs")
    parser.add_argument("--trial-epochs", type=int, default=2)
    parser.add_argument("--epochs-per-fit", type=int, default=60, help="ASSUMED mean stop")
    parser.add_argument("--gpu-flops", type=float, default=989e12, help="H100/H200 bf16 dense")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--parse-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parse_child:
        parse_child(*args.parse_child)
        return
    import logging
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "trainlab"):
        logging.getLogger(name).setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    out: dict = {"rows": args.rows, "features": args.features, "threads": args.threads,
                 "cpus": os.cpu_count(), "load_start": os.getloadavg()[0]}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="kmer_scale_") as scratch:
        data_dir, work = Path(scratch) / "data", Path(scratch) / "run"
        start = time.perf_counter()
        paths = write_muset(data_dir, args.rows, args.features, args.zero_fraction)
        out["write_s"] = time.perf_counter() - start
        parse = out["parse"] = measure_parse(paths, data_dir / ".trainlab_cache")
        print(
            f"SYNTHETIC MUSET matrix {args.features:,} unitigs x {args.rows:,} samples: "
            f"{parse['file_mb']:.0f} MB written in {out['write_s']:.0f} s\n"
            f"  parse (trainlab load_matrix, fresh process): first load {parse['first_load_s']:.1f}"
            f" s = {parse['first_load_mb_s']:.1f} MB/s (hash pass alone "
            f"{parse['hash_mb_s']:.0f} MB/s; parse + cache write {parse['parse_only_mb_s']:.1f}"
            f" MB/s)\n  peak RSS (ru_maxrss) {parse['peak_rss_mb']:.0f} MB = "
            f"{parse['peak_rss_over_file']:.2f} x the file (after imports "
            f"{parse['rss_after_imports_mb']:.0f} MB; at the end anonymous "
            f"{parse['rss_anon_end_mb']:.0f} MB, file-backed {parse['rss_file_end_mb']:.0f} MB)"
        )
        cfg = _compose(data_dir, work, ["data.group_column=project"])
        from trainlab.pipelines.kmer_cv.fold import build_data

        start = time.perf_counter()
        datamodule = build_data(cfg)
        out["cached_load_s"] = time.perf_counter() - start
        data = datamodule.load()
        tasks = {t: len(c) for t, c in data.tasks.items()}
        out["cpu_flops"] = flops = matmul_flops()
        x = torch.from_numpy(np.ascontiguousarray(data.x))
        y = torch.from_numpy(np.asarray(data.y))
        shapes = linear_shapes(build_net(cfg, x.shape[1], tasks))
        count = training_flops(shapes, len(x))
        floor = count["training"] / flops
        full = plain_epochs(cfg, x, y, tasks, args.epochs, True)
        fwd_bwd = plain_epochs(cfg, x, y, tasks, args.epochs, False)
        out["epoch"] = {"train_s": statistics.median(full),
                        "fwd_bwd_s": statistics.median(fwd_bwd), "floor_s": floor,
                        "flops": count, "linear_shapes": shapes}  # fmt: skip
        e = out["epoch"]
        print(
            f"CPU matmul (torch.mm 2048^2 fp32, {args.threads} thread(s)): {flops / 1e9:.1f} "
            f"GFLOP/s\nMLP epoch over {len(x):,} rows (default model, batch "
            f"{cfg.data.batch_size}): {count['training'] / 1e9:.0f} GFLOP (3x forward "
            f"{count['three_forward'] / 1e9:.0f}); floor {floor:.2f} s\n"
            f"  forward+backward {e['fwd_bwd_s']:.2f} s = {e['fwd_bwd_s'] / floor:.2f} x floor;"
            f" with the Adam step {e['train_s']:.2f} s = {e['train_s'] / floor:.2f} x floor"
        )
        del x, y
        trial = out["trial"] = trial_epoch(cfg, datamodule, args.trial_epochs)
        dispatch = out["dispatch_step_s"] = dispatch_step_s(cfg, tasks)
        print(
            f"trainlab trial (lean loop) {trial['rows_train']} train + {trial['rows_val']} "
            f"validation rows: {trial['s_per_epoch']:.2f} s/epoch; fixed cost of a step "
            f"(same MLP, 64 features): {dispatch * 1e3:.2f} ms"
        )
    batch, eval_batch = int(cfg.data.batch_size), int(cfg.data.eval_batch_size)
    scale = flops / args.gpu_flops
    out["projection"] = [
        project(trial, args.rows, epochs, scale, dispatch, batch, eval_batch)
        for epochs in (args.epochs_per_fit, 200)
    ]
    print(
        f"nested CV projection ({N_FOLDS} folds x {N_TRIALS} trials x {N_INNER} inner splits "
        f"+ {N_FOLDS} retrains + final; no pruning; GPU {args.gpu_flops / 1e12:.0f} TFLOP/s):"
    )
    for p in out["projection"]:
        label = "assumed mean" if p["epochs_per_fit"] == args.epochs_per_fit else "upper bound "
        print(
            f"  {label} {p['epochs_per_fit']:3d} epochs/fit: CPU {_hours(p['cpu_s'])} | GPU "
            f"FLOP-scaled {_hours(p['gpu_flop_scaled_s'])} | GPU + per-step fixed cost "
            f"{_hours(p['gpu_with_dispatch_s'])}"
        )
    out["load_end"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
