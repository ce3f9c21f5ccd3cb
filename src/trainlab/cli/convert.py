"""``trainlab convert inputs=[...] root=... table=train_data``: MGF/mzML -> Lance tables.

Labels come from ``label_column``, ``labels_csv`` or ``identifications=[<idXML|mzid|pepXML|
mzTab>]``; the report (``convert_report.json`` in the run folder) says how MS2 scans were paired
with MS1 scans, flags implausible pairings and counts matched / unmatched identifications.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.cli.app import entry_point
from trainlab.core.schema import Schema
from trainlab.errors import DataError

log = logging.getLogger("trainlab.convert")

CONVERT_SCHEMA = Schema(
    keys={
        "task_name": "str",
        "inputs": "list | str",
        "root": "str",
        "table": "str",
        "label_column": "str | None",
        "labels_csv": "str | None",
        "identifications": "list | str | None",
        "identification_filter": "dict",
        "identification_matching": "dict",
        "max_seconds_since_ms1": "float | int",
        "dataset_id": "str | None",
        "on_bad_row": "str",
        "on_profile": "str",
        "standardization": "str | None",
        "paths": "dict",
        "extras": "dict",
        "seed": "int",
        "run_name": "str | None",
        "resume": "str | None",
    },
    required={"inputs", "root"},
    target_groups=(),
)


def run(cfg: DictConfig) -> Any:
    """Convert, write ``convert_report.json`` in the run folder, fail if a file was rejected."""
    from trainlab.data.spectra.convert import convert_files, iter_supported
    from trainlab.io import atomic_write_json

    inputs = [cfg.inputs] if isinstance(cfg.inputs, str) else list(cfg.inputs)
    files = list(iter_supported(inputs))
    if not files:
        raise DataError(f"inputs={inputs}: no .mgf or .mzML files found")
    identifications = cfg.get("identifications") or []
    if isinstance(identifications, str):
        identifications = [identifications]
    report = convert_files(
        files,
        cfg.root,
        cfg.table,
        label_column=cfg.label_column,
        labels_csv=cfg.labels_csv,
        identifications=list(identifications),
        identification_filter=OmegaConf.to_container(cfg.identification_filter),
        identification_matching=OmegaConf.to_container(cfg.identification_matching),
        dataset_id=cfg.dataset_id,
        on_bad_row=cfg.on_bad_row,
        standardization=cfg.standardization,
        max_seconds_since_ms1=float(cfg.max_seconds_since_ms1),
        on_profile=cfg.on_profile,
        on_file=file_progress(len(files)),
    )
    log.info("%s", report.summary())
    for f in report.files:
        for warning in f.warnings:
            log.warning("%s: %s", f.path, warning)
    atomic_write_json(Path(cfg.paths.output_dir) / "convert_report.json", report_json(report))
    empty = [f.problems[-1] for f in report.files if f.status == "no MS2 scans"]
    if report.failed or empty:
        # each file's reason, not only its name: the summary lines may be far up the log
        reasons = "; ".join(_shortened(f.problems[0]) for f in report.failed if f.problems)
        rejected = (
            f"{len(report.failed)} file(s) rejected and not written: {reasons}. "
            if report.failed
            else ""
        )
        raise DataError(
            f"{rejected}{' '.join(empty)}{'. ' if empty else ''}Any other files were written; fix "
            "these and rerun (files already in the table are skipped)"
        )
    return report


def _shortened(problem: str, limit: int = 700) -> str:
    return problem if len(problem) <= limit else problem[: limit - 5] + " ..."


def file_progress(total: int) -> Any:
    """``file 2/5 | a.mzML: pending, 1200 spectra, 850 spectra/s | ... ETA`` per input file."""
    from trainlab.core.console import StepProgress

    progress = StepProgress("file", total, log)

    def on_file(result: Any, seconds: float) -> None:
        rate = f", {result.rows / seconds:.0f} spectra/s" if result.rows and seconds > 0 else ""
        status = "read" if result.status == "pending" else result.status
        progress.step(f"{result.path.name}: {status}, {result.rows} spectra{rate}")

    return on_file


def report_json(report: Any) -> dict:
    """The content of ``convert_report.json``."""
    return {
        "root": str(report.root),
        "table": report.table,
        "rows_written": report.rows_written,
        "standardization": str(report.standardization) if report.standardization else None,
        "constant_settings": report.constant_settings,
        "files": [
            {
                "path": str(f.path),
                "status": f.status,
                "rows": f.rows,
                "labelled": f.labelled,
                "problems": f.problems,
                "pairing": f.pairing,
                "checks": f.checks,
            }
            for f in report.files
        ],
        "identifications": report.identifications,
    }


main = entry_point("convert", CONVERT_SCHEMA)(run)

if __name__ == "__main__":
    main()
