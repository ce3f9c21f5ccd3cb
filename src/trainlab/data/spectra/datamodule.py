"""LightningDataModule over the Lance spectra tables of one root."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from trainlab.data.loader_settings import LoaderSettings
from trainlab.data.spectra import identical_spectra
from trainlab.data.spectra.instrument import SETTING_NAMES, STANDARDIZATION_FILE, Standardizer
from trainlab.data.spectra.loading import BatchSampler, SpectraBatches
from trainlab.data.spectra.schema import (
    N_INSTRUMENT_SETTINGS,
    NEGATIVE_INDEX,
    POLARITY_NAMES,
    TRAIN_TABLE,
    VALIDATION_TABLE,
    polarity_of,
)
from trainlab.data.spectra.shared_runs import (
    RunPrint,
    describe,
    find_in_sketch,
    find_shared,
    proven,
    sketch,
    table_prints,
)
from trainlab.data.spectra.store import (
    as_schema_types,
    flat_settings,
    list_spectra_tables,
    open_spectra,
    open_spectra_folder,
    other_lance_folders,
    table_uri,
)
from trainlab.data.spectra.table_checks import checked_fingerprints
from trainlab.errors import DataError

log = logging.getLogger(__name__)
PREDICTIONS_FILE = "predictions.csv"
LABEL_CLASSES = ["unlabeled", "identified"]


def table_rows(uri: str | Path, polarity: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row indices kept by the polarity filter, their labels, their polarities) of a table."""
    import lance

    table = lance.dataset(str(uri)).to_table(columns=["instrument_settings", "label"])
    table = as_schema_types(table, str(uri))
    settings = flat_settings(table.column("instrument_settings"), table.num_rows)
    warn_unscaled_settings(settings, str(uri))
    polarities = polarity_of(settings)
    labels = table.column("label").to_numpy()
    keep = np.arange(table.num_rows) if polarity is None else np.flatnonzero(polarities == polarity)
    return keep, labels[keep], polarities[keep]


# z-scored settings: means within +-0.7 and std 1.0-2.5 per slot on the synthetic tables (slot
# 11 is the widest); raw values (retention time in minutes, a 2000 m/z scan window, injection
# times in ms) are tens to thousands off
UNSCALED_MEAN, UNSCALED_STD = 5.0, 10.0


def warn_unscaled_settings(settings: np.ndarray, where: str) -> None:
    """Warn when the numeric settings (slots 0-13) of a table do not look z-scored: a table
    another pipeline wrote with raw values trains and predicts on another scale, silently."""
    if len(settings) < 2:
        return
    numeric = settings[:, :NEGATIVE_INDEX].astype(np.float64)
    mean, std = numeric.mean(axis=0), numeric.std(axis=0)
    off = np.flatnonzero((np.abs(mean) > UNSCALED_MEAN) | (std > UNSCALED_STD))
    if len(off):
        shown = ", ".join(
            f"{i} {SETTING_NAMES[i]} (mean {mean[i]:.3g}, std {std[i]:.3g})" for i in off[:5]
        )
        log.warning(
            "%s: instrument settings slot(s) %s do not look z-scored (|mean| > %g or std > %g). "
            "Slots 0-13 must be standardised with the training root's statistics "
            "(docs/spectra.md, Data; `trainlab convert` does it); the model and its baselines "
            "use them as they are",
            where,
            shown,
            UNSCALED_MEAN,
            UNSCALED_STD,
        )


def safe_start_method() -> str:
    """``forkserver`` where the platform has it, else ``spawn``: never a plain fork."""
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _collate_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch  # the dataset already returns a whole batch


class SpectraDataModule(L.LightningDataModule):
    """Train/validation/test from ``<root>/{train_data,validation_data,test_<n>}``.

    Args:
        root: folder holding the Lance tables.
        polarity: 1 (positive mode only), 0 (negative only) or None (both).
        batch_size: spectra per batch (per device under DDP).
        test_table: the table used by ``trainer.test``.
        synthetic: settings of the synthetic generator (see ``SyntheticSpec``) written to
            ``root`` when it holds no tables; None never generates.
        threshold: predictions at or above it are called identified in the prediction CSV:
            one number, or one per polarity (``{negative: 0.3, positive: 0.4}``, the form
            ``threshold.json`` writes when the cuts differ).
        threshold_quantile: set the threshold instead from the predicted data's labelled
            positives, at this quantile of their probabilities (e.g. 0.05), per polarity.
        test_after_fit: the run tests after fitting (the top-level ``test``): a missing test
            table is then refused before fitting, not after it.
        allow_identical_spectra: proceed, with a warning giving the count, when two tables
            hold identical spectra (e.g. technical replicates kept on purpose); refused by
            default.
        loader: the shared ``data.loader`` node (``LoaderSettings``); None values are chosen
            from the hardware by the core, and a None ``multiprocessing_context`` picks
            forkserver (or spawn), because Lance is not fork-safe once a table has been opened.
    """

    def __init__(
        self,
        root: str,
        polarity: int | None = None,
        batch_size: int = 256,
        test_table: str = "test_1",
        synthetic: dict[str, Any] | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        threshold: float | dict[str, float] | None = None,
        threshold_quantile: float | None = None,
        loader: LoaderSettings | dict[str, Any] | None = None,
        seed: int = 42,
        test_after_fit: bool = False,
        allow_identical_spectra: bool = False,
    ) -> None:
        super().__init__()
        if polarity not in (None, 0, 1):
            raise DataError(f"data.polarity={polarity!r}: use 1 (positive), 0 (negative) or null")
        if threshold is not None and threshold_quantile is not None:
            raise DataError("set data.threshold or data.threshold_quantile, not both")
        cuts = dict(threshold) if isinstance(threshold, Mapping) else {"": threshold}
        for name, cut in cuts.items():
            if cut is not None and not (isinstance(cut, int | float) and 0 <= cut <= 1):
                key = f"data.threshold.{name}" if name else "data.threshold"
                raise DataError(f"{key}={cut!r} must be a probability in [0, 1], e.g. 0.5")
        if threshold_quantile is not None and not 0 <= threshold_quantile <= 1:
            raise DataError(f"data.threshold_quantile={threshold_quantile} must lie in [0, 1]")
        self.root = Path(root)
        self.polarity = polarity
        self.batch_size = batch_size
        self.test_table = test_table
        self.synthetic = synthetic
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.threshold = dict(threshold) if isinstance(threshold, Mapping) else threshold
        self.threshold_quantile = threshold_quantile
        self.loader_settings = LoaderSettings.coerce(loader)
        self.test_after_fit = bool(test_after_fit)
        self.allow_identical_spectra = bool(allow_identical_spectra)
        self.datasets: dict[str, SpectraBatches] = {}
        self.label_counts: dict[str, dict[str, list[int]]] = {}
        self._predict: SpectraBatches | None = None
        self._opened_test: SpectraBatches | None = None
        self._run_prints: dict[str, dict[str, RunPrint]] = {}
        self._checked: set[tuple[str, str]] = set()
        self._checked_trained: set[str] = set()
        self._fingerprints: dict[str, np.ndarray] = {}  # table name -> one per row
        self._trained_runs: dict[str, dict] = {}
        self.shared_training_runs: list[str] = []

    def prepare_data(self) -> None:
        """Write the synthetic set into ``root`` if asked and ``root`` holds no tables."""
        if self._predict is not None:
            return  # predicting reads only the given table
        if self.synthetic is not None and not list_spectra_tables(self.root):
            from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra

            generate_spectra(self.root, SyntheticSpec(**self.synthetic))

    def _open(
        self, name: str, folder: Path | None = None, fix: str | None = None
    ) -> SpectraBatches:
        # checks the schema and names missing tables; a table to predict on may have any name
        dataset = open_spectra(self.root, name) if folder is None else open_spectra_folder(folder)
        prints = checked_fingerprints(dataset, dataset.uri)
        rows, labels, polarities = table_rows(dataset.uri, self.polarity)
        self._fingerprints[name] = prints
        _warn_repeated(dataset.uri, rows, prints[rows])
        if len(rows) == 0:
            raise DataError(
                f"{dataset.uri} has no rows of polarity {self.polarity} "
                f"({POLARITY_NAMES.get(self.polarity)}); "
                + (fix or "set data.polarity=null or another value")
            )
        self.label_counts[name] = {
            POLARITY_NAMES[code]: [
                int(((polarities == code) & (labels == 0)).sum()),
                int(((polarities == code) & (labels == 1)).sum()),
            ]
            for code in POLARITY_NAMES
        }
        return SpectraBatches(dataset.uri, rows)

    def setup(self, stage: str | None = None) -> None:
        """Open the tables and apply the polarity filter (prediction uses setup_predict)."""
        if stage == "predict":
            return
        wanted = {"train": TRAIN_TABLE, "val": VALIDATION_TABLE}
        if stage in (None, "fit", "test", "validate"):
            wanted["test"] = self.test_table
        for split, name in wanted.items():
            if split not in self.datasets:
                if split == "test" and stage == "fit":
                    self._check_test_table_before_fit()
                    continue
                opened = self._opened_test if split == "test" else None
                self.datasets[split] = opened or self._open(name)
        self._check_runs_apart()
        # after the runs check: a training run in the validation table is the first thing to fix
        for split, name in (("train", TRAIN_TABLE), ("val", VALIDATION_TABLE)):
            if split in self.datasets:
                _check_both_classes(self.label_counts[name], self.datasets[split].uri)
        if stage == "fit":
            self._refuse_missing_test_table()

    def _check_test_table_before_fit(self) -> None:
        """Before fitting, what the test after training would refuse hours later: a test table's
        rows (schema, polarity: one of the other polarity only) and a missing test table next to
        a Lance table named like one (test1, Test_1, tests/test_1); a root without any test
        table: see ``_refuse_missing_test_table`` (fine with ``test=false``)."""
        if self.test_table in list_spectra_tables(self.root):
            self._opened_test = self._open(self.test_table)  # kept for setup("test")
            return
        if any(name.lower().startswith("test") for name in other_lance_folders(self.root)):
            open_spectra(self.root, self.test_table)  # raises, naming the folders and the fix

    def _refuse_missing_test_table(self) -> None:
        """Before fitting a run that tests after it: a root without the test table. Checked
        after the tables there (a run shared by train_data and validation_data is named first)."""
        found = list_spectra_tables(self.root)
        if self.test_after_fit and self.test_table not in found:
            # before this the run trained for its whole budget, then stopped on the test
            tests = [name for name in found if name.startswith("test_")]
            pick = ""
            if tests:
                pick = f"data.test_table={tests[0]} (tables there: {', '.join(tests)}), "
            raise DataError(
                f"{self.root} has no test table {self.test_table} (spectra tables there: "
                f"{', '.join(found) or 'none'}), and this run tests after training (test=true, "
                f"the default). Fix: {pick}write {table_uri(self.root, self.test_table)} with "
                "`trainlab convert`, or train without a test: test=false"
            )

    def _prints(self, split: str) -> dict[str, RunPrint]:
        if split not in self._run_prints:
            names = {"train": TRAIN_TABLE, "val": VALIDATION_TABLE, "test": self.test_table}
            self._run_prints[split] = table_prints(table_uri(self.root, names[split]))
        return self._run_prints[split]

    def _check_runs_apart(self) -> None:
        """Refuse train/validation/test tables that hold the same run, and a test table with
        runs of the checkpoint's training table (eval with another ``data.root``). The test
        table is checked before fitting too, when it exists: not after hours of training."""
        names = {"train": TRAIN_TABLE, "val": VALIDATION_TABLE, "test": self.test_table}
        present = set(list_spectra_tables(self.root))
        splits = [s for s in ("train", "val", "test") if s in self.datasets or names[s] in present]
        for i, first in enumerate(splits):
            for second in splits[i + 1 :]:
                if (first, second) in self._checked:
                    continue
                self._checked.add((first, second))
                shared = find_shared(self._prints(first), self._prints(second))
                where = f"{self.root}/{names[first]} and {self.root}/{names[second]}"
                if proven(shared):
                    raise DataError(
                        f"{where} hold the same mass-spec run(s): {describe(proven(shared))}. "
                        "Scans of one run share their MS1 spectra, so the model would be "
                        f"selected or tested on spectra it trained on. Convert each run into one "
                        "table only (whole runs, not scans: see docs/spectra.md, Bring your own "
                        "data)"
                    )
                if shared:
                    log.warning("%s have files of the same name: %s", where, describe(shared))
                self._check_no_identical_spectra(names[first], names[second])
        if "test" in self.datasets and self._trained_runs and "test" not in self._checked_trained:
            self._checked_trained.add("test")
            shared = find_in_sketch(self._trained_runs, self._prints("test"))
            if shared:
                raise DataError(
                    f"{table_uri(self.root, self.test_table)} holds run(s) the checkpoint was "
                    f"trained on: {describe(shared)} (training file / test file). Its figures "
                    "would be measured on training spectra; evaluate on a table of other runs"
                )

    def _rows_and_prints(self, name: str) -> tuple[str, np.ndarray, np.ndarray]:
        """(uri, rows kept by the polarity filter, their fingerprints) of an opened table."""
        split = {TRAIN_TABLE: "train", VALIDATION_TABLE: "val"}.get(name, "test")
        data = self.datasets.get(split)
        if data is None and split == "test":
            data = self._opened_test
        if data is None or name not in self._fingerprints:
            data = self._open(name)
            if split == "test":
                self._opened_test = data
        return data.uri, data.rows, self._fingerprints[name][data.rows]

    def _check_no_identical_spectra(self, first: str, second: str) -> None:
        """Refuse two tables of the root holding identical spectra (precursor m/z and MS1
        peaks) under other names: rows copied between splits, which the run check misses when
        they are fewer than half of a run or carry other file names and scan numbers."""
        found = identical_spectra.across(
            self._rows_and_prints(first), self._rows_and_prints(second)
        )
        if not found.rows:
            return
        where = (
            f"{self.root}/{first} and {self.root}/{second} hold {found.rows} identical spectra "
            f"(same precursor m/z and MS1 peaks, {second} rows found in {first}), "
            f"e.g. {found.describe(first, second)}"
        )
        if self.allow_identical_spectra:
            log.warning(
                "%s. Kept because data.allow_identical_spectra=true: the %s figures are "
                "measured partly on spectra %s holds",
                where,
                second,
                first,
            )
            return
        raise DataError(
            f"{where}. The model would be selected or tested on spectra it trained on. Remove "
            "the rows from one of the tables (keep each run in one table: docs/spectra.md, One "
            "run, one table), or, if they are legitimate (technical replicates kept on purpose), "
            "proceed with a warning: data.allow_identical_spectra=true"
        )

    def use_trained_spec(self, spec: dict[str, Any]) -> None:
        """Remember the checkpoint's training runs (eval and predict check their tables)."""
        self._trained_runs = spec.get("training_runs") or {}

    def spec(self) -> dict[str, Any]:
        """What the model builder needs: the (PU) label classes and the polarity trained on."""
        return {
            "tasks": {"label": list(LABEL_CLASSES)},
            "polarity": self.polarity,
            "n_instrument_settings": N_INSTRUMENT_SETTINGS,
            "label_counts": self.label_counts.get(TRAIN_TABLE, {}),
            # the scale of the instrument settings: predicting on another one is refused
            "instrument_standardization": _standardization(self.root),
            # a sample of each training run's spectra: eval/predict find them in other tables
            "training_runs": sketch(self._prints("train")) if "train" in self.datasets else {},
        }

    def class_counts(self) -> dict[str, list[int]]:
        """Training rows per PU class (unlabelled, identified), both polarities together."""
        counts = self.label_counts.get(TRAIN_TABLE)
        if counts is None:
            raise DataError("call setup() before class_counts()")
        return {"label": [sum(pair[i] for pair in counts.values()) for i in (0, 1)]}

    def baseline_features(self, split: str) -> tuple[str, np.ndarray, np.ndarray, str]:
        """The 22 instrument settings and the precursor m/z of a split, for the baselines."""
        from trainlab.data.spectra.tabular import spectra_baseline_features

        return spectra_baseline_features(self.datasets[split])

    def baseline_polarities(self, split: str) -> np.ndarray:
        """The polarity code of each row of ``baseline_features(split)``, in its order: nnPU's
        at-prior figures call each polarity's top prior share (the baselines' too)."""
        from trainlab.data.spectra.tabular import spectra_polarities

        return spectra_polarities(self.datasets[split].uri, self.datasets[split].rows)

    def train_sample_batches(
        self, max_rows: int, rank: int = 0, world_size: int = 1
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Batches of at most ``max_rows`` training rows, evenly spaced over the table and the
        same every epoch (this rank's share under DDP), for training figures in eval mode.
        Read here, without a DataLoader: no worker starts and no random number is drawn, so
        the training run itself is unchanged."""
        data = self.datasets.get("train")
        if data is None or max_rows <= 0 or not len(data):
            return
        positions = np.unique(np.linspace(0, len(data) - 1, min(max_rows, len(data))).round())
        positions = positions.astype(np.int64)[rank::world_size]
        for start in range(0, len(positions), self.batch_size):
            yield data[positions[start : start + self.batch_size]]

    def report_dataloaders(self) -> dict[str, DataLoader]:
        """Unshuffled batches of every split set up, for reports."""
        # every batch: rank 0 reads these alone, after a DDP fit too
        return {
            name: self._loader(data, False, False, role="report")
            for name, data in self.datasets.items()
        }

    def _loader(
        self, dataset: SpectraBatches, shuffle: bool, drop_last: bool, role: str = "train"
    ) -> DataLoader:
        """``role``: train (batches padded to a multiple of the DDP processes), eval (shared
        out, none repeated) or report (every batch, in this process)."""
        # Lance's runtime is not fork-safe once the parent has opened a table (setup does)
        options = self.loader_settings.dataloader_kwargs(default_context=safe_start_method())
        alone = {"num_replicas": 1, "rank": 0} if role == "report" else {}
        sampler = BatchSampler(
            len(dataset), self.batch_size, shuffle, self.seed, drop_last, pad=role == "train",
            **alone,
        )  # fmt: skip
        return DataLoader(
            dataset, batch_size=None, sampler=sampler, collate_fn=_collate_batch, **options
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["train"], self.shuffle, self.drop_last)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["val"], False, False, role="eval")

    def test_dataloader(self) -> DataLoader:
        if "test" not in self.datasets:
            self.setup("test")
        return self._loader(self.datasets["test"], False, False, role="eval")

    def setup_predict(self, input_path: str, spec: dict[str, Any]) -> None:
        """Predict on a Lance spectra table folder (e.g. ``<root>/test_1``)."""
        path = Path(input_path)
        if not (path / "_versions").is_dir():
            raise DataError(
                f"predict input {path} is not a Lance spectra table: give a table folder such "
                f"as <root>/test_1 (convert MGF/mzML first with `trainlab convert`)"
            )
        _check_same_scale(path, spec.get("instrument_standardization"))
        fix = (
            "the checkpoint was trained on that polarity only: predict with a checkpoint "
            "trained on the table's polarity (data.polarity=null would score spectra this "
            "one never saw)"
        )
        self._predict = self._open(path.name, folder=path, fix=fix)
        _check_trained_polarities(path, self.label_counts[path.name], spec)
        trained = spec.get("training_runs") or {}  # none in checkpoints from before this
        shared = find_in_sketch(trained, table_prints(path)) if trained else []
        if shared:
            # predicting on training runs has its uses (how the model scores what it saw), but
            # any figure or threshold from these rows is optimistic: say so loudly
            log.warning(
                "%s holds %d run(s) the checkpoint was trained on: %s (training file / this "
                "file). Its predictions on them are on training spectra: do not measure the "
                "model or set a threshold (data.threshold_quantile) on this table",
                path,
                len(shared),
                describe(shared),
            )
        self.shared_training_runs = [str(s) for s in shared]

    def predict_dataloader(self) -> DataLoader:
        if self._predict is None:
            raise DataError("call setup_predict(input) before predict_dataloader()")
        return self._loader(self._predict, False, False)

    def write_predictions(
        self, outputs: list[dict[str, Any]], out_dir: Path, spec: dict[str, Any]
    ) -> list[Path]:
        """``predictions.csv``: one row per spectrum, with the decision threshold if one is set.

        Columns: index (row of the input table), probability, label, polarity, source_file,
        ms1_scan_number, ms2_scan_number, and ``predicted`` (1/0) when there is a threshold.
        """
        from trainlab.data.spectra.predictions import write_prediction_files

        merged = {
            key: torch.cat([out[key].detach().cpu() for out in outputs]).numpy()
            for key in ("prob", "index")
        }
        return write_prediction_files(
            self._predict.dataset,
            merged["index"],
            merged["prob"],
            Path(out_dir),
            threshold=self.threshold,
            threshold_quantile=self.threshold_quantile,
        )


def _check_trained_polarities(table: Path, counts: dict[str, list[int]], spec: dict) -> None:
    """Refuse rows of a polarity the checkpoint was not trained on.

    ``+data.polarity=null`` at predict time lifted the checkpoint's filter: a negative-mode
    checkpoint scored 60 positive-mode rows and wrote them without a word.
    """
    trained_counts = spec.get("label_counts") or {}
    if trained_counts:
        trained = [name for name, pair in trained_counts.items() if sum(pair) > 0]
    elif spec.get("polarity") in POLARITY_NAMES:  # checkpoints from before label_counts
        trained = [POLARITY_NAMES[spec["polarity"]]]
    else:
        return
    unseen = [name for name, pair in counts.items() if sum(pair) > 0 and name not in trained]
    if unseen:
        shown = "null" if spec.get("polarity") is None else spec.get("polarity")
        raise DataError(
            f"{table} holds {unseen} spectra, which the checkpoint never saw: it was trained on "
            f"{trained} spectra only (data.polarity={shown}), so its scores for them mean "
            "nothing. Fix: drop the data.polarity override so the checkpoint's own filter "
            "applies, or use a checkpoint trained on that polarity"
        )


def _warn_repeated(uri: str, rows: np.ndarray, prints: np.ndarray) -> None:
    """Warn about rows of one table holding the same spectrum as another row: a copy weighs
    those spectra twice in training and in every figure (two MS2 scans of one precursor in one
    MS1 cycle look the same, hence a warning, not a refusal)."""
    found = identical_spectra.within(uri, rows, prints)
    if found.rows:
        log.warning(
            "%s: %d row(s) hold the same spectrum (precursor m/z and MS1 peaks) as an earlier "
            "row, e.g. %s. Rows copied into the table (under other names) count twice in "
            "training and in every figure: remove the copies. Two MS2 scans of one precursor "
            "in one MS1 cycle of a run also look like this",
            uri,
            found.rows,
            found.describe(),
        )


def _check_both_classes(counts: dict[str, list[int]], uri: str) -> None:
    """Refuse a training or validation table whose rows of a polarity are all one class: a PU
    classifier learns nothing from them (all unlabeled: every probability goes to 0) and its
    validation AUROC is undefined, yet the run finished without an error before this check."""
    for polarity, (unlabeled, identified) in counts.items():
        if unlabeled + identified and not (unlabeled and identified):
            kind = "identified (label 1)" if identified else "unlabeled (label 0)"
            raise DataError(
                f"{uri}: all {unlabeled + identified} {polarity}-mode rows are {kind}; training "
                "and validation need identified and unlabeled spectra of each polarity they "
                "hold. Check the label column (1 = identified), or keep the other polarity "
                "with data.polarity"
            )


def _standardization(root: Path) -> dict | None:
    path = Path(root) / STANDARDIZATION_FILE
    return Standardizer.load(path).to_dict() if path.exists() else None


def _check_same_scale(table: Path, trained: dict | None) -> None:
    """Refuse a table whose root standardised the settings otherwise than the training root."""
    path = table.parent / STANDARDIZATION_FILE
    if not trained or not path.exists():
        return  # synthetic or hand-made tables, or a checkpoint from before this was recorded
    differences = Standardizer.load(path).differences(Standardizer(trained["mean"], trained["std"]))
    if differences:
        raise DataError(
            f"{table} was standardised with {path}, not with the statistics the checkpoint was "
            f"trained on, so its instrument settings are on another scale "
            f"({'; '.join(differences[:3])}). Convert its spectra files into a new root with "
            f"`trainlab convert ... standardization=<training root>/{STANDARDIZATION_FILE}`"
        )
