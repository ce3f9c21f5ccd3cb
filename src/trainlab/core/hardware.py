"""What this machine offers, and the DataLoader and precision defaults that follow from it."""

from __future__ import annotations

import os
import platform
from typing import Any


def hardware_report() -> dict[str, Any]:
    """Device, compute capability, bf16/TF32 support, memory, CUDA version, CPU count."""
    import torch

    report: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": _memory_gib(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "mps_available": bool(getattr(torch.backends, "mps", None))
        and torch.backends.mps.is_available(),
        "gpus": [],
    }
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            major, minor = props.major, props.minor
            report["gpus"].append(
                {
                    "index": index,
                    "name": props.name,
                    "compute_capability": f"{major}.{minor}",
                    "memory_gib": round(props.total_memory / 2**30, 2),
                    "bf16": major >= 8,
                    "tf32": major >= 8,
                }
            )
    return report


def _memory_gib() -> float | None:
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * size / 2**30, 2)


def format_report(report: dict[str, Any]) -> str:
    """One short human-readable block for the console."""
    lines = [
        f"torch {report['torch']} | python {report['python']} | "
        f"{report['usable_cpus'] or report['cpu_count']} CPUs | {report['memory_gib']} GiB RAM"
    ]
    if report["gpus"]:
        for gpu in report["gpus"]:
            lines.append(
                f"GPU {gpu['index']}: {gpu['name']} (sm {gpu['compute_capability']}, "
                f"{gpu['memory_gib']} GiB, bf16={gpu['bf16']}, tf32={gpu['tf32']}) "
                f"CUDA {report['cuda_version']}"
            )
    else:
        lines.append("no GPU: training on CPU")
    return "\n".join(lines)


def loader_defaults(report: dict[str, Any]) -> dict[str, Any]:
    """DataLoader settings chosen from the hardware, for those ``data.loader`` leaves null.

    On a GPU, workers feed the device in parallel and pinned memory speeds up the copy; on a
    small CPU box extra worker processes compete with the training for the same cores.
    """
    cpus = report.get("usable_cpus") or report.get("cpu_count") or 1
    on_gpu = bool(report.get("gpus"))
    workers = min(8, max(0, cpus - 1)) if on_gpu else 0
    return {
        "num_workers": workers,
        "pin_memory": on_gpu,
        "persistent_workers": workers > 0,
        "prefetch_factor": 4 if workers > 0 else None,
    }


def resolve_precision(precision: str | int | None, report: dict[str, Any]) -> str:
    """Turn ``auto`` into bf16-mixed where every GPU supports it, else 16-mixed or 32."""
    if precision is None:
        return "32-true"
    text = str(precision)
    if text != "auto":
        return text
    gpus = report.get("gpus") or []
    if not gpus:
        return "32-true"
    return "bf16-mixed" if all(g["bf16"] for g in gpus) else "16-mixed"
