"""The model's feature (unitig) ids, saved in its data spec and matched at prediction.

A model's first layer reads feature columns by position. A matrix of new samples whose columns
hold the same unitigs in another order (a re-sorted text matrix, a Parquet file written with
its columns reordered) had the right count and was predicted from shuffled inputs without a
word; the ids are therefore saved in every checkpoint and new columns are matched to them.
"""

from __future__ import annotations

import logging

import numpy as np

from trainlab.data.kmer.unitigs import SPEC_COUNT, SPEC_DIGEST, SPEC_FILE, UnitigsDigest
from trainlab.errors import DataError

log = logging.getLogger(__name__)
#: Key of the data spec: the training matrix's feature ids, joined by SEPARATOR. One string,
#: not a list: checkpoints redact every string of the spec, which took 40 s for a list of
#: 200,000 ids and 0.014 s for the same ids as one string.
SPEC_KEY = "feature_ids"
SEPARATOR = "\n"


def pack_feature_ids(feature_ids: list[str]) -> str | None:
    """The spec's value for `feature_ids`; None when an id holds the separator (unsaveable)."""
    if any(SEPARATOR in f for f in feature_ids):
        log.warning(
            "feature ids contain line breaks: the checkpoint cannot record them, and prediction "
            "will take new matrices' columns in the training order without checking them"
        )
        return None
    return SEPARATOR.join(feature_ids)


def align_features(
    source: str,
    values: np.ndarray,
    feature_ids: list[str] | None,
    spec: dict,
    unitigs: UnitigsDigest | None = None,
) -> np.ndarray:
    """`values` (samples x features of `source`) with its columns in the model's order.

    Columns are matched by id. When either side has no ids (`feature_ids` None: a `.npy`, a
    `.npz` without `feature_ids`; a model trained on such a file or written before ids were
    saved), the columns are taken in order, with a warning. Ids missing on either side stop
    with examples. Where the ids cannot tell the training unitigs from others (none, or plain
    numbers), the digest of the `unitigs.fa` beside the matrix (`unitigs`) is compared with
    the one the model was trained with: another run's unitigs stop the prediction.
    """
    n_model = int(spec["in_features"])
    packed = spec.get(SPEC_KEY)
    trained = packed.split(SEPARATOR) if packed else None
    if feature_ids is not None and feature_ids == trained:
        _check_count(source, values, n_model)
        _check_unitigs(source, trained, spec, unitigs)
        return values
    unchecked = None
    if trained is None:
        unchecked = (
            "the checkpoint records no feature ids (the training matrix had none, or an older "
            "trainlab wrote it)"
        )
    elif feature_ids is None:
        unchecked = (
            "it carries no feature ids (save them with the matrix, `feature_ids` of a .npz or "
            "the columns of a Parquet file, to have them matched)"
        )
    if unchecked:
        _check_count(source, values, n_model)
        _check_unitigs(source, None, spec, unitigs)
        log.warning(
            "%s: %s; its %d columns are taken as the model's features in the training order, "
            "which cannot be checked",
            source,
            unchecked,
            values.shape[1],
        )
        return values
    index = {f: i for i, f in enumerate(feature_ids)}
    missing = [f for f in trained if f not in index]
    known = set(trained)
    extra = [f for f in feature_ids if f not in known]
    if missing or extra:
        raise DataError(
            f"{source}: its features are not the model's: {len(missing)} of the model's "
            f"{len(trained)} feature ids are missing (e.g. {missing[:3]}) and {len(extra)} of "
            f"its {len(feature_ids)} are unknown to the model (e.g. {extra[:3]}). Build the "
            "matrix over the same unitigs as the training matrix (their order may differ)."
        )
    order = np.fromiter((index[f] for f in trained), dtype=np.int64, count=len(trained))
    log.info("%s: feature columns reordered to the model's order (matched by id)", source)
    _check_unitigs(source, trained, spec, unitigs)
    return np.asarray(values)[:, order]


def _check_unitigs(
    source: str, ids: list[str] | None, spec: dict, unitigs: UnitigsDigest | None
) -> None:
    """Refuse another MUSET run's unitigs where the ids cannot tell (none, or numbers).

    Sequences as ids (`muset -s`) were matched one by one already: nothing more to check.
    """
    if ids is not None and not all(i.isdigit() for i in ids):
        return
    trained = spec.get(SPEC_DIGEST)
    if trained and unitigs is not None:
        if unitigs.sha256 == trained:
            log.info(
                "%s: its unitigs (%s, %d unitigs) are the training run's (same sha256 %s)",
                source,
                unitigs.path,
                unitigs.count,
                trained[:16],
            )
            return
        raise DataError(
            f"{source}: its unitigs are not the model's. The {unitigs.path.name} beside it "
            f"({unitigs.path}: {unitigs.count} unitigs, sha256 {unitigs.sha256[:16]}...) differs "
            f"from the one the model was trained with ({spec.get(SPEC_FILE)}: "
            f"{spec.get(SPEC_COUNT)} unitigs, sha256 {trained[:16]}...). The matrix's unitig "
            "ids are numbers, which every MUSET run gives its own unitigs from 0: its column "
            "for unitig 7 holds another sequence than the model's. Fix: build the matrix of the "
            "new samples over the training run's unitigs (the training unitigs.fa), or train "
            "and predict on matrices written with MUSET's -s (sequences as ids, matched one by "
            "one)."
        )
    if ids is None:
        return  # the caller warns that nothing about the columns could be checked
    if trained:
        log.warning(
            "%s: its %d feature ids are plain unitig numbers, which match the model's; the model "
            "was trained on the unitigs of %s (%s unitigs, sha256 %s...), but there is no %s "
            "beside %s to compare with. Another MUSET run numbers its own unitigs from 0 too: "
            "put the new run's unitigs.fa beside the matrix to have it checked.",
            source,
            len(ids),
            spec.get(SPEC_FILE),
            spec.get(SPEC_COUNT),
            trained[:16],
            "unitigs.fa",
            source,
        )
        return
    _warn_numeric_ids(source, ids)


def _warn_numeric_ids(source: str, ids: list[str]) -> None:
    """Ids that are plain numbers match any MUSET run's: say so, since it cannot be checked.

    GGCAT numbers a run's unitigs from 0, so a matrix of another MUSET run (other samples,
    other unitigs) with as many unitigs has exactly the ids 0..N-1 of the training matrix and
    was predicted from without a word, its column 7 another sequence than the model's.
    Sequences as ids (`muset -s`) are checked: a unitig of another run has another sequence.
    """
    if not ids or not all(i.isdigit() for i in ids):
        return
    log.warning(
        "%s: its %d feature ids are plain unitig numbers, which match the model's; such "
        "numbers cannot tell the training run's unitigs from another MUSET run's, which numbers "
        "its own unitigs from 0 too. The predictions are only meaningful if this matrix was "
        "built over the training unitigs (the unitigs.fa of the training run). To have the "
        "unitigs themselves checked, train and predict on matrices written with MUSET's -s "
        "(sequences as ids).",
        source,
        len(ids),
    )


def _check_count(source: str, values: np.ndarray, n_model: int) -> None:
    if values.shape[1] != n_model:
        raise DataError(
            f"{source} has {values.shape[1]} features but the model was trained on {n_model}. "
            "Build the matrix over the same unitigs."
        )
