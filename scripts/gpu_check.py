"""One GPU check: what this project has never measured, measured on the machine at hand.

    scripts/gpu-check.sh [--dry-run] [--out FILE]      (this file does the work)

Steps, each a table section of the markdown report (docs/gpu.md by default):
  hardware     nvidia-smi, torch/CUDA versions, devices (trainlab's hardware report)
  gemm         the measured matmul rate per dtype: the reference the FLOP floors use
  digits       a digits epoch through trainlab in 32-true, bf16-mixed and 16-mixed, each as a
               ratio to the plain PyTorch loop on the same device (benchmarks/overhead.py)
  kmer-trial   a k-mer CV trial in the three precisions vs its plain loop (benchmarks/kmer_trial.py)
  spectra      the spectrum transformer (configs/model/spectrum_pu.yaml) training throughput
               and peak memory at batch 256 with 400 peaks, fp32 and bf16 autocast
  kmer-scale   the k-mer MLP at the real data's scale (3,070 x 107,000 synthetic, hidden 512):
               epoch time against its FLOP floor at the measured matmul rate
  ddp          digits epochs on 1 device and DDP over 2 processes (2 GPUs; dry run: gloo on CPU)
  resume       exact resume on the device with deterministic=true: a run killed mid-epoch
               and resumed equals the uninterrupted one bit for bit (the lifecycle tests' runs)
  container    the image's GPU path (docker/build.sh, docker/run.sh --gpus all) where Docker and
               the NVIDIA container toolkit exist; otherwise the reason it was skipped

--dry-run runs the same code on CPU at tiny sizes (minutes) and writes to a scratch file, so a
CPU machine checks the script without touching docs/gpu.md. A failed step is a row saying so;
the exit status is 1 when any step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")


@dataclass
class Section:
    """One step's table: a title, column names, rows, notes under it."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: bool = False

    def markdown(self) -> str:
        lines = [f"## {self.title}", ""]
        if self.rows:
            lines += ["| " + " | ".join(self.columns) + " |"]
            lines += ["|" + "---|" * len(self.columns)]
            lines += ["| " + " | ".join(row) + " |" for row in self.rows]
            lines.append("")
        lines += [f"{note}  " for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


@dataclass
class Check:
    """Sizes and places of one check: the real one on a GPU, or the tiny dry run on CPU."""

    dry_run: bool
    work: Path

    @property
    def device(self) -> str:
        return "cpu" if self.dry_run else "cuda"

    @property
    def trainer(self) -> list[str]:
        return ["trainer.accelerator=cpu"] if self.dry_run else ["trainer=gpu"]

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
            "TRAINLAB_DATA_DIR": str(self.work / "data"),
            "TRAINLAB_LOG_DIR": str(self.work / "logs"),
            "WANDB_MODE": "disabled",
        }


def sh(command: list[str], check: Check, timeout: float) -> str:
    """Run a command of the check; its output, or RuntimeError with the output's end."""
    done = subprocess.run(
        command, cwd=REPO, env=check.env(), capture_output=True, text=True, timeout=timeout
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {output.strip()[-600:]}")
    return output


def cell(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if abs(value) < 1e3 else f"{value:,.0f}"


# ---- steps ----------------------------------------------------------------------------------
def hardware(check: Check) -> Section:
    import torch

    from trainlab.core.hardware import format_report, hardware_report

    section = Section("Hardware", ["item", "value"])
    report = hardware_report()
    for key in ("torch", "cuda_version", "cudnn_version", "cpu_count", "memory_gib", "python"):
        section.rows.append([key, str(report.get(key))])
    for gpu in report["gpus"]:
        section.rows.append(
            [
                f"GPU {gpu['index']}",
                f"{gpu['name']}, {gpu['memory_gib']} GiB, "
                f"cc {gpu['compute_capability']}, bf16 {gpu['bf16']}",
            ]
        )
    smi = shutil.which("nvidia-smi")
    if smi:
        query = "--query-gpu=name,driver_version,memory.total,power.limit,clocks.max.sm"
        out = subprocess.run(
            [smi, query, "--format=csv,noheader"], capture_output=True, text=True
        ).stdout.strip()
        section.rows += [["nvidia-smi", line] for line in out.splitlines()]
    else:
        section.notes.append("nvidia-smi: not found on this machine")
    if check.dry_run:
        section.notes.append(f"dry run on CPU ({torch.get_num_threads()} torch threads)")
    section.notes.append(f"`{format_report(report)}`".replace("\n", " "))
    return section


def gemm(check: Check, rates: dict[str, float]) -> Section:
    """Matmul TFLOP/s per dtype on the device (n x n), the best of a few timed runs."""
    import torch

    section = Section(
        "Measured matmul rate (the FLOP floors' reference)", ["dtype", "n", "TFLOP/s"]
    )
    n = 256 if check.dry_run else 8192
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
        a = torch.randn(n, n, device=check.device, dtype=dtype)
        b = torch.randn(n, n, device=check.device, dtype=dtype)
        best = float("inf")
        for _ in range(5):
            synchronize(check)
            start = time.perf_counter()
            for _ in range(3):
                a @ b
            synchronize(check)
            best = min(best, (time.perf_counter() - start) / 3)
        rates[name] = 2 * n**3 / best
        section.rows.append([name, str(n), cell(rates[name] / 1e12)])
    section.notes.append(
        f"torch.backends.cuda.matmul.allow_tf32 = {torch.backends.cuda.matmul.allow_tf32} "
        "(fp32 without TF32 unless the run enables it)"
    )
    return section


def synchronize(check: Check) -> None:
    if not check.dry_run:
        import torch

        torch.cuda.synchronize()


def digits(check: Check) -> Section:
    bench = benchmark_module("overhead")

    section = Section(
        "Digits epoch: trainlab vs the plain loop, per precision",
        ["precision", "plain loop ms/epoch", "trainlab ms/epoch", "ratio (wall)"],
    )
    epochs = 3 if check.dry_run else 11
    for precision in PRECISIONS:
        try:
            plain, ours = digits_epochs(bench, check, epochs, precision)
            ratios = sorted(o / p for o, p in zip(ours, plain, strict=True))
            section.rows.append(
                [
                    precision,
                    cell(1e3 * median(plain)),
                    cell(1e3 * median(ours)),
                    cell(ratios[len(ratios) // 2]),
                ]
            )
        except Exception as error:  # one precision failing (16-mixed on CPU) leaves the rest
            section.rows.append([precision, "-", "-", f"not run: {short(error)}"])
    section.notes.append(
        f"{epochs - 1} measured epochs after 1 warm-up; the plain loop is fp32 "
        "on the same device, alternating step by step with trainlab "
        "(benchmarks/overhead.py's callback)"
    )
    return section


def digits_epochs(bench, check: Check, epochs: int, precision: str):
    """Training-time per epoch (wall s) of trainlab and of the plain loop, warm-up left out."""
    import copy

    from trainlab.core.hardware import hardware_report
    from trainlab.core.seeding import seed_everything
    from trainlab.core.train import build_run, route_lightning_logs

    run_dir = check.work / f"digits-{precision}"
    overrides = [*check.trainer, f"trainer.precision={precision}"]
    if check.dry_run:  # 3 steps an epoch instead of 24, on both sides
        overrides.append("data.batch_size=512")
    cfg = bench.compose_train_config(run_dir, check.work / "data", epochs, overrides)
    route_lightning_logs()
    seed_everything(cfg.seed, cfg.deterministic, cfg.cudnn_benchmark)
    parts = build_run(cfg, run_dir, hardware_report())
    timer = bench.make_alternating_callback(
        copy.deepcopy(parts.model.net),
        bench.plain_training_data(parts.datamodule),
        cfg,
        cfg.seed,
        "step",
    )
    parts.trainer.callbacks.insert(0, timer)
    parts.trainer.fit(parts.model, datamodule=parts.datamodule)
    return [p[0] for p in timer.plain[1:]], [f[0] for f in timer.framework[1:]]


def benchmark_module(name: str):
    """benchmarks/<name>.py as a module (by path: an installed `benchmarks` package may shadow
    the folder, which is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"trainlab_benchmark_{name}", REPO / "benchmarks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def kmer_trial(check: Check) -> Section:
    bench = benchmark_module("kmer_trial")

    section = Section(
        "k-mer trial: trainlab vs the plain loop, per precision",
        ["precision", "rows x features", "plain s", "trainlab s", "ratio"],
    )
    epochs, repeats = (2, 1) if check.dry_run else (10, 3)
    for precision in PRECISIONS:
        overrides = [*check.trainer, f"trainer.precision={precision}"]
        if check.dry_run:
            overrides.append("data.synthetic.n_unitigs=200")
        try:
            cfg = bench.compose(check.work / "data", check.work / "kmer_run", overrides)
            trial = bench.trial_benchmark(cfg, epochs, repeats)
            section.rows.append(
                [
                    precision,
                    f"{trial['rows_train']} x {trial['features']}",
                    cell(trial["plain_s"]),
                    cell(trial["trainlab_s"]),
                    cell(trial["ratio"]),
                ]
            )
        except Exception as error:
            section.rows.append([precision, "-", "-", "-", f"not run: {short(error)}"])
    section.notes.append(
        f"{epochs} epochs, median of {repeats}; plain loop in fp32 "
        "(benchmarks/kmer_trial.py's functions)"
    )
    return section


def spectra(check: Check) -> Section:
    import torch
    from omegaconf import OmegaConf

    net_cfg = OmegaConf.load(REPO / "configs" / "model" / "spectrum_pu.yaml").net
    section = Section(
        "Spectrum transformer training (configs/model/spectrum_pu.yaml)",
        ["precision", "batch x peaks", "spectra/s", "peak memory MiB"],
    )
    batch, peaks, steps = (4, 12, 1) if check.dry_run else (256, 400, 30)
    for name, dtype in (("fp32", None), ("bf16 autocast", torch.bfloat16)):
        rate, memory = spectra_rate(check, net_cfg, dtype, batch, peaks, steps)
        section.rows.append([name, f"{batch} x {peaks}", cell(rate), cell(memory)])
    section.notes.append(
        "synthetic spectra padded to the real data's 400 peaks (docs/spectra.md); "
        "BCE + AdamW steps; peak memory is torch's allocator peak (CUDA only)"
    )
    return section


def spectra_rate(check: Check, net_cfg, dtype, batch: int, peaks: int, steps: int):
    """(spectra per second, peak allocated MiB) of training steps at one precision."""
    import torch
    from hydra.utils import instantiate

    device = check.device
    torch.manual_seed(0)
    net = instantiate(net_cfg).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-5)
    mz = torch.rand(batch, peaks, device=device) * 2000
    intensity = torch.rand(batch, peaks, device=device)
    precursor = torch.rand(batch, device=device) * 2000
    settings = torch.rand(batch, 22, device=device)
    target = (torch.rand(batch, device=device) > 0.5).float()

    def step() -> None:
        with torch.autocast(device, dtype=dtype, enabled=dtype is not None):
            logits = net(mz, intensity, precursor, settings)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    if not check.dry_run:
        torch.cuda.reset_peak_memory_stats()
    synchronize(check)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(check)
    rate = batch * steps / (time.perf_counter() - start)
    memory = float("nan") if check.dry_run else torch.cuda.max_memory_allocated() / 2**20
    return rate, memory


def kmer_scale(check: Check, rates: dict[str, float]) -> Section:
    import torch
    from torch.nn import functional as F

    from trainlab.nets.mlp import MultitaskMLP

    rows, features, hidden, batch = (
        (200, 2000, 64, 32) if check.dry_run else (3070, 107_000, 512, 64)
    )
    tasks = {"sample_type": 8, "community_type": 6, "sample_host": 12, "material": 10}
    section = Section(
        "k-mer MLP at the real data's scale",
        ["rows x features", "hidden", "batch", "epoch s", "FLOP floor s", "ratio"],
    )
    torch.manual_seed(0)
    net = MultitaskMLP(features, tasks, n_layers=2, hidden_dims=hidden).to(check.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(rows, features, device=check.device)
    y = torch.stack([torch.randint(0, k, (rows,), device=check.device) for k in tasks.values()], 1)

    def epoch() -> None:
        for start in range(0, rows, batch):
            logits = net(x[start : start + batch])
            loss = sum(
                F.cross_entropy(logits[t], y[start : start + batch, j]) for j, t in enumerate(tasks)
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    epoch()  # warm-up
    synchronize(check)
    start = time.perf_counter()
    epoch()
    synchronize(check)
    seconds = time.perf_counter() - start
    # forward 2 FLOPs per multiply-add of every Linear, backward twice that
    macs = sum(
        m.in_features * m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)
    )
    floor = 6 * macs * rows / rates["fp32"]
    section.rows.append(
        [
            f"{rows} x {features:,}",
            str(hidden),
            str(batch),
            cell(seconds),
            cell(floor),
            cell(seconds / floor),
        ]
    )
    section.notes.append(
        "synthetic dense features; floor = 6 x multiply-adds x rows at the "
        "measured fp32 matmul rate; Adam, fp32"
    )
    return section


def ddp(check: Check) -> Section:
    import torch

    section = Section("DDP", ["setting", "processes", "wall s (incl. start-up)"])
    base = [
        sys.executable,
        "-m",
        "trainlab.cli.main",
        "train",
        "extras.print_config=false",
        "callbacks.progress_bar=null",
        "logger=csv",
        "callbacks.early_stopping=null",
    ]
    if check.dry_run:  # the code path only: two gloo processes, a few steps, no test phase
        base += [
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=2",
            "+trainer.limit_val_batches=1",
            "test=false",
        ]
        settings = [("DDP, 2 processes, gloo (CPU)", ["trainer=ddp_sim"])]
    elif torch.cuda.device_count() >= 2:
        base += ["trainer.max_epochs=3"]
        settings = [
            ("1 GPU, 3 epochs", ["trainer=gpu"]),
            # ddp re-runs the command line for rank 1, which trainlab refuses outside SLURM
            ("DDP, 2 GPUs, 3 epochs", ["trainer=ddp", "trainer.strategy=ddp_spawn"]),
        ]
    else:
        section.notes.append(f"skipped: {torch.cuda.device_count()} GPU (DDP needs 2)")
        return section
    for name, overrides in settings:
        start = time.perf_counter()
        sh([*base, *overrides, f"run_name=ddp-{len(section.rows)}"], check, timeout=300)
        section.rows.append(
            [name, "2" if "DDP" in name else "1", cell(time.perf_counter() - start)]
        )
    return section


def resume(check: Check) -> Section:
    if str(REPO) not in sys.path:  # the lifecycle tests' run helpers live in tests/
        sys.path.insert(0, str(REPO))
    from tests.integration.lifecycle import runs

    from trainlab.data.images.digits import write_digits
    from trainlab.data.images.split import split_folder

    section = Section("Exact resume on the device (deterministic=true)", ["check", "result"])
    digits_dir = check.work / "resume_data" / "digits"
    if not (digits_dir / "splits" / "test.txt").is_file():
        write_digits(digits_dir)
        split_folder(digits_dir, folds=3, test_ratio=0.15, seed=0)
    logs = check.work / "resume_logs"
    extra = [*check.trainer, "deterministic=true"]
    code, output = runs.run(digits_dir, logs, "run_name=reference", *extra)
    if code != 0:
        raise RuntimeError(f"reference run: exit {code}: {output[-600:]}")
    code, output = runs.run(
        digits_dir, logs, "run_name=killed", "resume=auto", *extra, kill_at="train_batch:1:3"
    )
    if code != -9:
        raise RuntimeError(f"the kill point was not reached (exit {code}): {output[-600:]}")
    code, output = runs.run(digits_dir, logs, "run_name=killed", "resume=auto", *extra)
    if code != 0:
        raise RuntimeError(f"resumed run: exit {code}: {output[-600:]}")
    folder = logs / "train" / "runs"
    runs.assert_same_run(folder / "reference", folder / "killed")
    section.rows.append(
        [
            "killed mid-epoch (train_batch:1:3), resumed with resume=auto",
            "bit-identical weights, steps, early stopping, metrics, reports",
        ]
    )
    return section


def container(check: Check) -> Section:
    section = Section("Container GPU path", ["step", "result"])
    build = ["bash", "docker/build.sh", "--tag", "gpu-check"]
    train = [
        "bash",
        "docker/run.sh",
        "--image",
        "trainlab:gpu-check",
        "--gpus",
        "all",
        "--workspace",
        str(check.work / "container"),
        "train",
        "trainer=gpu",
        "trainer.max_epochs=1",
        "extras.print_config=false",
        "callbacks.progress_bar=null",
    ]
    docker = shutil.which("docker")
    engine = (
        docker is not None and subprocess.run([docker, "info"], capture_output=True).returncode == 0
    )
    toolkit = engine and (
        shutil.which("nvidia-ctk")
        or shutil.which("nvidia-container-cli")
        or "nvidia" in subprocess.run([docker, "info"], capture_output=True, text=True).stdout
    )
    if check.dry_run or not toolkit:
        reason = (
            "dry run"
            if check.dry_run
            else "no Docker engine"
            if not engine
            else "no NVIDIA container toolkit"
        )
        commands = sh([*build, "--dry-run"], check, timeout=60).strip().splitlines()
        section.notes.append(
            f"skipped ({reason}); would run `{commands[-1].strip()}`, then "
            f"`{' '.join(train[1:5])} ... train trainer=gpu trainer.max_epochs=1`"
        )
        return section
    for name, command in (
        ("docker/build.sh (CUDA base)", build),
        ("digits epoch, --gpus all", train),
    ):
        start = time.perf_counter()
        sh(command, check, timeout=900)
        section.rows.append([name, f"{cell(time.perf_counter() - start)} s"])
    return section


def short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:160] + "...") if len(text) > 160 else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on CPU, tiny")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="markdown report (default: docs/gpu.md; dry run: a scratch file)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated steps (hardware,gemm,digits,kmer-trial,spectra,"
        "kmer-scale,ddp,resume,container)",
    )
    args = parser.parse_args(argv)
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print(
            "gpu_check: torch sees no CUDA device (torch.cuda.is_available() is False); "
            "run on a GPU machine, or --dry-run to check the steps on CPU",
            file=sys.stderr,
        )
        return 3
    out = args.out or (
        Path(tempfile.gettempdir()) / "gpu-check-dry-run.md"
        if args.dry_run
        else REPO / "docs" / "gpu.md"
    )
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as scratch:
        check = Check(args.dry_run, Path(scratch))
        steps: dict[str, Callable[[], Section]] = {
            "hardware": lambda: hardware(check),
            "gemm": lambda: gemm(check, rates),
            "digits": lambda: digits(check),
            "kmer-trial": lambda: kmer_trial(check),
            "spectra": lambda: spectra(check),
            "kmer-scale": lambda: kmer_scale(check, rates),
            "ddp": lambda: ddp(check),
            "resume": lambda: resume(check),
            "container": lambda: container(check),
        }
        chosen = args.only.split(",") if args.only else list(steps)
        unknown = sorted(set(chosen) - set(steps))
        if unknown:
            parser.error(f"--only: unknown step(s) {unknown}; known: {', '.join(steps)}")
        if "kmer-scale" in chosen and "gemm" not in chosen:
            chosen.insert(0, "gemm")
        sections, timings = [], {}
        started = time.perf_counter()
        for name in chosen:
            print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            try:
                sections.append(steps[name]())
            except Exception as error:
                traceback.print_exc()
                sections.append(Section(name, [], notes=[f"FAILED: {short(error)}"], failed=True))
            timings[name] = time.perf_counter() - start
            print(f"gpu_check: {name} took {timings[name]:.1f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - started
    kind = "DRY RUN on CPU, tiny sizes: not GPU figures" if args.dry_run else "GPU check"
    header = [
        "# GPU figures" if not args.dry_run else "# GPU check (dry run)",
        "",
        f"{kind}. Written by `scripts/gpu-check.sh{' --dry-run' if args.dry_run else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {total:.0f} s "
        f"(load average {os.getloadavg()[0]:.1f}). Step times (s): "
        + ", ".join(f"{name} {seconds:.0f}" for name, seconds in timings.items()),
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header) + "\n" + "\n".join(s.markdown() for s in sections))
    (out.with_suffix(".json")).write_text(
        json.dumps(
            {"timings": timings, "failed": [s.title for s in sections if s.failed]}, indent=2
        )
    )
    print(f"gpu_check: wrote {out} in {total:.0f} s", file=sys.stderr)
    return 1 if any(s.failed for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
