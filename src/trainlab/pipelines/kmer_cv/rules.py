"""The version of the rules that decide what a k-mer CV folder's results are.

`cv_results/cv_settings.json` keeps the settings a resumed folder must keep; the code's own
rules (how a fold's validation part is drawn, how parameters are aggregated, ...) change with
trainlab, not with the settings. A folder resumed after such a change silently mixed folds of
both. Each fold record, the final model's record and the settings file now carry the rules
version and the trainlab version that wrote them; results of other rules are refused, or redone
with `cv.redo_other_rules=true`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from trainlab.errors import ConfigError

#: Raise when a change makes a fold, the aggregation or the final model come out otherwise for
#: the same settings, and say what changed in RULES_HISTORY.
CV_RULES = 4
RULES_HISTORY = {
    1: "before rules were recorded",
    2: (
        "a group-disjoint validation split takes the group fold closest to the fraction, not "
        "the first; a layer width is aggregated over the folds whose network has that layer"
    ),
    3: (
        "val/test loss is the mean over tasks of the plain cross-entropy, not the weighted "
        "training objective; a task without a labelled row where a fold's model was fitted is "
        "left out of that fold's test metrics; a tie of a choice parameter is broken by the "
        "folds' inner scores, not their test scores"
    ),
    4: (
        "a task without a labelled row where a model is fitted is left out of its validation "
        "figures too (the monitor of the search and of the epoch choice), not only its test "
        "figures"
    ),
}
REDO_KEY = "cv.redo_other_rules"


def versions() -> dict[str, Any]:
    """`{"rules_version": CV_RULES, "trainlab_version": ...}`, for every record written."""
    import trainlab

    return {"rules_version": CV_RULES, "trainlab_version": trainlab.__version__}


def rules_of(record: dict, fallback: dict | None = None) -> dict[str, Any]:
    """The versions a record was written under (the settings file's for records without)."""
    for source in (record, fallback or {}):
        if "rules_version" in source:
            return {
                "rules_version": source["rules_version"],
                "trainlab_version": source.get("trainlab_version", "not recorded"),
            }
    return {"rules_version": None, "trainlab_version": "not recorded"}


def other_rules(record: dict, fallback: dict | None = None) -> str | None:
    """Why a record was computed under other rules than this trainlab's (None: the same)."""
    found = rules_of(record, fallback)
    if found["rules_version"] == CV_RULES:
        return None
    now = versions()
    return (
        f"it has {describe(found)}; this trainlab {now['trainlab_version']} applies rules "
        f"{CV_RULES}"
    )


def describe(found: dict[str, Any]) -> str:
    version = found.get("rules_version")
    if version is None:
        return "no rules version (written before trainlab recorded one)"
    return f"rules {version}, trainlab {found.get('trainlab_version', '?')}"


def changes_since(version: int | None) -> str:
    """What changed from `version` to CV_RULES, one clause per step."""
    start = 1 if version is None else int(version)
    steps = [f"rules {v}: {RULES_HISTORY[v]}" for v in range(start + 1, CV_RULES + 1)]
    return "; ".join(steps) or "other rules"


def check_folder_rules(out_dir: Path, settings: dict, redo: bool) -> list[str]:
    """Refuse a folder holding results of other rules; with `redo`, list what is redone.

    Fold results are set aside by their fold when it runs again (fold.py); a final model of
    other rules is moved to `final_model_set_aside/<time>/` (`check_final_rules`).
    """
    stale = []
    for folder in sorted((Path(out_dir) / "cv_results").glob("fold_*")):
        records = sorted(folder.glob("multitask_fold_*_results_*.json"))
        if records and other_rules(record := json.loads(records[-1].read_text())):
            stale.append((folder.name.replace("_", " "), rules_of(record)))
    if stale and not redo:
        final = _final_rules(out_dir)
        raise other_rules_error(out_dir, stale + ([final] if final else []), settings)
    redone = [f"{name}: {describe(found)} -> rules {CV_RULES}" for name, found in stale]
    return redone + check_final_rules(out_dir, redo, settings)


def check_final_rules(out_dir: Path, redo: bool, settings: dict | None = None) -> list[str]:
    """A final model of other rules: refused, or with `redo` moved aside (listed)."""
    final = _final_rules(out_dir)
    if final is None:
        return []
    if not redo:
        raise other_rules_error(out_dir, [final], settings or {})
    target = Path(out_dir) / "final_model_set_aside" / time.strftime("%Y%m%d_%H%M%S")
    target.parent.mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "final_model").rename(target)
    return [f"final_model: {describe(final[1])} -> rules {CV_RULES} (old one in {target})"]


def _final_rules(out_dir: Path) -> tuple[str, dict] | None:
    path = Path(out_dir) / "final_model" / "final_training_config.json"
    if path.is_file() and other_rules(record := json.loads(path.read_text())):
        return "final_model", rules_of(record)
    return None


def other_rules_error(out_dir: Path, stale: list[tuple[str, dict]], settings: dict) -> ConfigError:
    """The folder, what each result was computed under, this trainlab's rules and the fix."""
    lines = "\n".join(f"  {name}: {describe(found)}" for name, found in stale)
    now = versions()
    oldest = min((f["rules_version"] or 1 for _, f in stale), default=1)
    return ConfigError(
        f"{out_dir} holds results computed under other k-mer CV rules than this trainlab "
        f"{now['trainlab_version']} applies (rules {CV_RULES}; the folder's cv_settings.json "
        f"records {describe(rules_of(settings))}):\n{lines}\n"
        f"Changed since: {changes_since(oldest)}. Going on would mix them with results computed "
        "now, in one table and one aggregation. Fix: use a new run folder (run_name=...), or "
        f"redo them in this one with `trainlab cv mode=full {REDO_KEY}=true` (or mode=optimize; "
        "each fold's earlier result, checkpoints and search journal move to "
        "fold_<k>/set_aside/<time>/, a final model to final_model_set_aside/<time>/), or go on "
        "with the trainlab version that computed them."
    )
