"""nnPU priors checked against the data before anything is built.

nnPU weights each spectrum with the class prior of its polarity. A wrong prior trains silently
to a wrong model, so: the priors come from ``model.priors_file`` (``trainlab prior``) and/or
explicit ``model.priors.<polarity>`` (which override the file per polarity); the polarities the
training table actually holds (after ``data.polarity``) each need one. Only the synthetic setup
(the tables the generator wrote, or will write) takes the generator's true priors by default.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)
PU_TARGET = "trainlab.models.pu.BinaryPUClassifier"


def pu_prior_problems(cfg: DictConfig) -> list[str]:
    """Problems with the nnPU priors of a composed train config (empty when fine).

    In the synthetic setup, polarities without a prior get the generator's true prior, written
    into ``cfg.model.priors`` so the run's config.yaml and checkpoints record it.
    """
    model, data = cfg.get("model"), cfg.get("data")
    if not isinstance(model, DictConfig) or model.get("_target_") != PU_TARGET:
        return []
    if model.get("loss") != "nnpu" or not isinstance(data, DictConfig) or "root" not in data:
        return []
    from trainlab.errors import ConfigError
    from trainlab.models.pu import PRIOR_REMEDY, merge_priors

    explicit = model.get("priors") or {}
    try:
        priors = merge_priors(model.get("priors_file"), dict(explicit))
    except ConfigError as err:
        return [str(err)]
    root, polarity = Path(str(data.root)), data.get("polarity")
    present, synthetic_priors, where = _polarities_and_truth(root, data.get("synthetic"), polarity)
    missing = [name for name in present if name not in priors]
    if not missing:
        return []
    if synthetic_priors is not None and all(n in synthetic_priors for n in missing):
        with open_dict(model):
            model.priors = {**dict(explicit), **{n: synthetic_priors[n] for n in missing}}
        log.info("nnPU on the synthetic data: its true priors %s", dict(model.priors))
        return []
    source = f"model.priors_file={model.get('priors_file')}" if model.get("priors_file") else ""
    given = f"priors given: {priors} ({source or 'model.priors'})" if priors else "no priors given"
    shown = "null" if polarity is None else polarity
    return [
        f"model.loss=nnpu: {where} holds {present} spectra (data.polarity={shown}) but "
        f"there is no prior for {missing}; {given}. Fix: {PRIOR_REMEDY.format(name=missing[0])}"
    ]


def _polarities_and_truth(
    root: Path, synthetic: Any, polarity: int | None
) -> tuple[list[str], dict[str, float] | None, str]:
    """(polarity names the training rows hold, the synthetic true priors or None, where)."""
    from trainlab.data.spectra.datamodule import table_rows
    from trainlab.data.spectra.schema import POLARITY_NAMES, TRAIN_TABLE
    from trainlab.data.spectra.store import list_spectra_tables, table_uri
    from trainlab.data.spectra.synthetic import read_truth

    wanted = [POLARITY_NAMES[polarity]] if polarity in POLARITY_NAMES else None
    if TRAIN_TABLE in list_spectra_tables(root):
        _, _, polarities = table_rows(table_uri(root, TRAIN_TABLE), polarity)
        present = [POLARITY_NAMES[c] for c in sorted(set(polarities.tolist()), reverse=True)]
        truth = read_truth(root)
        true_priors = dict(truth["true_priors"]) if truth else None
        return present, true_priors, str(table_uri(root, TRAIN_TABLE))
    if synthetic is not None:  # the generator will write both polarities on first use
        true_priors = {k: float(v) for k, v in dict(synthetic.get("priors") or {}).items()}
        present = wanted or [n for n in ("positive", "negative") if n in true_priors]
        return present, true_priors, f"the synthetic set to be written to {root}"
    return wanted or ["positive", "negative"], None, str(root)
