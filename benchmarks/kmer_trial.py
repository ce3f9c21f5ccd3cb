"""One k-mer trial through trainlab vs the best hand-written PyTorch loop, side by side.

Both train the same MultitaskMLP on the same tensors (already on the device) with fused Adam,
the same batches per epoch, class-weighted cross-entropy with missing labels ignored, and a
validation pass with per-task weighted F1 after every epoch. Ours goes through Lightning,
MultiHeadClassifier and KmerMatrixDataModule's in-memory batches (`fit_rows`, as every trial
of `trainlab cv` does: the lean Fabric loop unless cv.lean_trials=false); the same trial
through the Lightning Trainer is timed too. Then, unless --skip-cv, a complete nested CV on
the default data.

    python benchmarks/kmer_trial.py [--epochs 30] [--repeats 5] [--skip-cv] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def compose(data_dir: Path, out_dir: Path, overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from trainlab.cli.app import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return hydra_compose(
            "cv",
            overrides=[
                "experiment=kmer/diana",
                f"paths.data_dir={data_dir}",
                f"paths.root_dir={out_dir}",
                f"paths.work_dir={out_dir}",
                f"paths.output_dir={out_dir}",
                *overrides,
            ],
        )


def hand_written_trial(net, x_tr, y_tr, x_va, y_va, weights, epochs, batch_size, lr, wd, seed):
    """The plain loop: shuffle, step, then validation weighted F1 per task, every epoch."""
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=wd, fused=True)
    generator = torch.Generator().manual_seed(seed)
    n = len(x_tr)
    tasks = list(weights)
    best = -1.0
    for _ in range(epochs):
        net.train()
        order = torch.randperm(n, generator=generator).to(x_tr.device)
        n_batches = n // batch_size + (n % batch_size > 1)
        for b in range(n_batches):
            index = order[b * batch_size : (b + 1) * batch_size]
            logits = net(x_tr.index_select(0, index))
            y = y_tr.index_select(0, index)
            loss = sum(
                torch.nan_to_num(
                    F.cross_entropy(logits[t], y[:, j], weight=weights[t], ignore_index=-1)
                )
                for j, t in enumerate(tasks)
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            logits = net(x_va)
            scores = []
            for j, t in enumerate(tasks):
                keep = y_va[:, j] >= 0
                k = logits[t].shape[1]
                pred, true = logits[t].argmax(1)[keep], y_va[keep, j]
                cm = torch.bincount(true * k + pred, minlength=k * k).view(k, k).double()
                tp, support, predicted = cm.diag(), cm.sum(1), cm.sum(0)
                f1 = torch.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
                scores.append(float((f1 * support).sum() / support.sum()))
        best = max(best, float(np.mean(scores)))
    return best


def trial_benchmark(cfg, epochs: int, repeats: int) -> dict:
    from trainlab.core.lean_fit import freeze_long_lived_objects
    from trainlab.data.kmer.folds import kfold_splits, outer_folds
    from trainlab.nets.mlp import MultitaskMLP
    from trainlab.pipelines.kmer_cv.fit import fit_rows, trial_config
    from trainlab.pipelines.kmer_cv.fold import build_data

    datamodule = build_data(cfg)
    data = datamodule.load()
    strata = datamodule.strata()
    outer_train, _ = outer_folds(strata, cfg.cv.n_folds, cfg.cv.seed, data.groups)[0]
    inner = kfold_splits(outer_train, strata, cfg.cv.n_inner_splits, cfg.cv.seed, data.groups)
    train, val = inner[0]
    net_cfg, opt = cfg.model.net, cfg.model.optimizer
    batch_size, lr, wd = int(cfg.data.batch_size), opt.lr, opt.weight_decay

    datamodule.use_rows(train, val)
    x_tr, y_tr = datamodule._tensors("train")
    x_va, y_va = datamodule._tensors("val")
    counts = datamodule.class_counts()
    weights = {}
    for t, c in counts.items():
        c = torch.tensor(c, dtype=torch.float32).clamp(min=1)
        weights[t] = c.sum() / (len(c) * c)

    def ours(lean: bool = bool(cfg.cv.lean_trials)) -> float:
        trial_cfg = trial_config(cfg, {})  # exactly what a trial of `trainlab cv` runs
        result = fit_rows(
            trial_cfg, datamodule, train, val, max_epochs=epochs, patience=epochs + 1, lean=lean
        )
        return result.best_score

    def through_trainer() -> float:
        return ours(lean=False)

    def plain() -> float:
        torch.manual_seed(0)
        net = MultitaskMLP(
            data.x.shape[1],
            data.tasks,
            n_layers=net_cfg.n_layers,
            hidden_dims=list(net_cfg.hidden_dims),
            dropout=net_cfg.dropout,
            batch_norm=net_cfg.batch_norm,
            activation=net_cfg.activation,
        ).to(x_tr.device)
        args = (x_tr, y_tr, x_va, y_va, weights, epochs, batch_size, lr, wd, 0)
        return hand_written_trial(net, *args)

    ours(), through_trainer(), plain()  # warm-up: imports, allocator, first Trainer
    freeze_long_lived_objects()  # as `trainlab cv` does before its trials
    times = {"trainlab": [], "trainer": [], "plain": []}
    for _ in range(repeats):
        for name, fn in (("trainlab", ours), ("trainer", through_trainer), ("plain", plain)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    ours_s, plain_s = statistics.median(times["trainlab"]), statistics.median(times["plain"])
    best_ratio = min(times["trainlab"]) / min(times["plain"])
    # each repeat runs the variants back to back: their ratio cancels slow drifts of the machine
    pairs = zip(times["trainlab"], times["plain"], strict=True)
    paired = statistics.median(a / b for a, b in pairs)
    return {
        "rows_train": len(train),
        "rows_val": len(val),
        "features": int(data.x.shape[1]),
        "epochs": epochs,
        "batch_size": batch_size,
        "steps_per_epoch": len(datamodule.train_dataloader()),
        "lean_trials": bool(cfg.cv.lean_trials),
        "trainlab_s": ours_s,
        "plain_s": plain_s,
        "ratio": ours_s / plain_s,
        "trainer_s": statistics.median(times["trainer"]),
        "trainer_ratio": statistics.median(times["trainer"]) / plain_s,
        "ratio_of_best": best_ratio,
        "ratio_paired_median": paired,
        "all_times": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (cv default: 1)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--unitigs", type=int, default=None, help="synthetic width (2,000)")
    parser.add_argument("--skip-cv", action="store_true")
    parser.add_argument("--cv-launcher", default="sequential", help="sequential | local")
    parser.add_argument(
        "--trainer-trials",
        action="store_true",
        help="cv.lean_trials=false: trials (and the nested CV's trials) through the Trainer",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)

    # the synthetic data and the CV run folders go away afterwards
    with tempfile.TemporaryDirectory(prefix="kmer_bench_") as scratch:
        run(args, Path(scratch))


def run(args: argparse.Namespace, work: Path) -> None:
    accel = "gpu" if args.device == "cuda" else "cpu"
    overrides = [f"trainer.accelerator={accel}"]
    if args.unitigs:
        overrides.append(f"data.synthetic.n_unitigs={args.unitigs}")
    if args.trainer_trials:
        overrides.append("cv.lean_trials=false")
    cfg = compose(work / "data", work / "run", overrides)
    result = {"device": args.device, "threads": args.threads, "cpus": os.cpu_count()}
    result["trial"] = trial_benchmark(cfg, args.epochs, args.repeats)
    t = result["trial"]
    print(
        f"k-mer trial ({t['rows_train']} x {t['features']}, {t['epochs']} epochs, "
        f"{t['steps_per_epoch']} steps/epoch, device {args.device}, {args.threads} thread(s)):\n"
        f"  trainlab {t['trainlab_s']:.3f} s | hand-written PyTorch {t['plain_s']:.3f} s | "
        f"ratio {t['ratio']:.3f} of medians, {t['ratio_of_best']:.3f} of best runs, "
        f"{t['ratio_paired_median']:.3f} median of paired runs "
        "(target <= 1.05)\n"
        f"  the same trial through the Lightning Trainer (cv.lean_trials=false): "
        f"{t['trainer_s']:.3f} s, ratio {t['trainer_ratio']:.3f}"
    )
    if not args.skip_cv:
        from trainlab.pipelines.kmer_cv.runner import run_cv

        start = time.perf_counter()
        cfg.cv.launcher = args.cv_launcher
        summary = run_cv(cfg)
        elapsed = time.perf_counter() - start
        overall = summary["aggregate"]["aggregated"]["overall"]["f1_weighted"]
        result["nested_cv"] = {
            "seconds": elapsed,
            "n_folds": cfg.cv.n_folds,
            "n_inner_splits": cfg.cv.n_inner_splits,
            "n_trials": cfg.cv.n_trials,
            "launcher": args.cv_launcher,
            "overall_f1_weighted_mean": overall["mean"],
            "overall_f1_weighted_std": overall["std"],
            "table": summary["aggregate"]["table"],
        }
        print(
            f"complete nested CV on the default data ({cfg.cv.n_folds} outer folds x "
            f"{cfg.cv.n_trials} trials x {cfg.cv.n_inner_splits} inner splits + final model): "
            f"{elapsed:.1f} s; overall weighted F1 {overall['mean']:.4f} "
            f"+- {overall['std']:.4f} (sample std)"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
