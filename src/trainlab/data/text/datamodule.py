"""LightningDataModules of the text tasks: criteria, evidence and joint.

All three read the same two CSV files (or write the synthetic default when asked), split posts
70/15/15 once into `splits.json`, and tokenise with the tokenizer of `encoder`. A batch is
`(x, y)`: `x` a dict of tensors for the net, `y` the label tensor (criteria) or a dict of targets.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from trainlab.data.eval_shares import eval_sampler
from trainlab.data.loader_settings import LoaderSettings
from trainlab.data.text.encoding import get_tokenizer, vocabulary_digest
from trainlab.data.text.evidence import SpanReport
from trainlab.data.text.examples import CRITERION_DESCRIPTIONS, criterion_text
from trainlab.data.text.normalise import canonical_criterion
from trainlab.data.text.readers import Annotation, read_annotations, read_posts
from trainlab.data.text.splits import SPLIT_NAMES, load_or_create_splits
from trainlab.errors import DataError
from trainlab.text_assets import TINY

log = logging.getLogger(__name__)

CLASSES = ["absent", "present"]
TASK = "status"


class TensorDictDataset(Dataset):
    """Rows of a dict of equal-length tensors; a batch is cut to its longest sequence.

    `x_keys` go into the model input dict; `y_keys` become the target (a tensor when there is
    one key, else a dict).
    """

    def __init__(self, tensors: dict[str, torch.Tensor], x_keys: list[str], y_keys: list[str]):
        lengths = {len(t) for t in tensors.values()}
        if len(lengths) != 1:
            raise ValueError(f"tensors of different lengths: {lengths}")
        self.tensors = tensors
        self.x_keys, self.y_keys = x_keys, y_keys

    def __len__(self) -> int:
        return len(self.tensors["input_ids"])

    def __getitem__(self, index: int) -> Any:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> tuple[dict[str, torch.Tensor], Any]:
        index = torch.as_tensor(indices, dtype=torch.long)
        width = int(self.tensors["attention_mask"][index].sum(1).max())
        x = {}
        for key in self.x_keys:
            value = self.tensors[key][index]
            x[key] = value[:, :width] if value.ndim >= 2 else value
        y = {key: self.tensors[key][index] for key in self.y_keys}
        return x, (y[self.y_keys[0]] if len(self.y_keys) == 1 else y)


def _keep(batch: Any) -> Any:
    return batch


class TextDataModule(L.LightningDataModule, ABC):
    """Shared plumbing of the text DataModules (subclasses build the examples and tensors).

    Args:
        data_dir: folder with the CSV files; splits.json and tokenizer caches are written here.
        posts_file: posts CSV name (post_id, text) inside data_dir (or an absolute path).
        annotations_file: annotations CSV name inside data_dir (or an absolute path).
        synthetic: write the synthetic data set into data_dir when the files are missing.
        synthetic_posts: number of posts of the synthetic data set.
        synthetic_seed: seed of the synthetic data set.
        encoder: the encoder whose tokenizer is used (same string as model.net.encoder).
        tiny_vocab_size: vocabulary of the WordPiece tokenizer trained for encoder=tiny.
        max_length: tokens per example after truncation.
        batch_size: training batch size.
        eval_batch_size: validation/test/predict batch size (default: batch_size).
        split_seed: seed of the post-grouped split (separate from the training seed).
        split_ratios: train/val/test fractions of posts.
        criteria: restrict to these criteria (default: all in the annotations).
        loader: the shared ``data.loader`` node (``LoaderSettings``); None values are chosen
            from the hardware by the core.
        seed: shuffling seed.
    """

    x_keys: list[str] = ["input_ids", "attention_mask", "token_type_ids"]
    y_keys: list[str] = ["labels"]

    def __init__(
        self,
        data_dir: str,
        posts_file: str = "posts.csv",
        annotations_file: str = "annotations.csv",
        synthetic: bool = False,
        synthetic_posts: int = 500,
        synthetic_seed: int = 0,
        encoder: str = "tiny",
        tiny_vocab_size: int = 2000,
        max_length: int = 128,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        split_seed: int = 42,
        split_ratios: list[float] | None = None,
        criteria: list[str] | None = None,
        loader: LoaderSettings | dict[str, Any] | None = None,
        seed: int = 42,
    ) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.posts_path = self.data_dir / posts_file
        self.annotations_path = self.data_dir / annotations_file
        self.synthetic = synthetic
        self.synthetic_posts = synthetic_posts
        self.synthetic_seed = synthetic_seed
        self.encoder = encoder
        self.tiny_vocab_size = tiny_vocab_size
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.split_seed = split_seed
        self.split_ratios = tuple(split_ratios or (0.7, 0.15, 0.15))
        self.criteria_filter = [canonical_criterion(c) for c in criteria] if criteria else None
        self.loader_settings = LoaderSettings.coerce(loader)
        self.seed = seed
        self.tokenizer = None
        self._trained_spec: dict[str, Any] = {}  # a checkpoint's spec (eval and predict)
        self.criteria: list[str] = []
        self.datasets: dict[str, TensorDictDataset] = {}
        self.span_reports: dict[str, dict] = {}
        self._row_criteria: dict[str, list[str]] = {}  # per evaluated row, by split
        self._predict: TensorDictDataset | None = None
        self._predict_rows: list[dict[str, Any]] = []
        self._data: tuple[dict[str, str], dict[str, list[Annotation]]] | None = None

    # ---- reading -------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Write the synthetic data set when asked and missing; make the split file."""
        if not self.posts_path.is_file() or not self.annotations_path.is_file():
            if not self.synthetic:
                raise DataError(
                    f"{self.posts_path} or {self.annotations_path} is missing. Put the posts and "
                    "annotations CSV files there (data.data_dir, data.posts_file, "
                    "data.annotations_file), or set data.synthetic=true for the synthetic set."
                )
            from trainlab.data.text.generator import generate_text_dataset

            log.info("writing the SYNTHETIC text data set to %s", self.data_dir)
            generate_text_dataset(
                self.data_dir, n_posts=self.synthetic_posts, seed=self.synthetic_seed
            )
        posts = read_posts(self.posts_path)
        load_or_create_splits(
            self.data_dir, posts, seed=self.split_seed, ratios=self.split_ratios, texts=posts
        )

    def _read(self) -> tuple[dict[str, str], dict[str, list[Annotation]]]:
        if self._data is None:  # once: the reader's warnings are not repeated
            self._data = self._read_files()
        return self._data

    def _read_files(self) -> tuple[dict[str, str], dict[str, list[Annotation]]]:
        posts = read_posts(self.posts_path)
        rows = read_annotations(self.annotations_path, posts)
        if self.criteria_filter:
            present = {a.criterion for a in rows}
            unknown = [c for c in self.criteria_filter if c not in present]
            if unknown:
                raise DataError(
                    f"data.criteria names {unknown}, which {self.annotations_path} does not "
                    f"have; its criteria are {sorted(present)}."
                )
            rows = [a for a in rows if a.criterion in self.criteria_filter]
        if not rows:
            raise DataError(
                f"{self.annotations_path}: no annotations left (data.criteria="
                f"{self.criteria_filter}). Check the criterion names."
            )
        splits = load_or_create_splits(
            self.data_dir, posts, seed=self.split_seed, ratios=self.split_ratios, texts=posts
        )
        where = {pid: name for name in SPLIT_NAMES for pid in splits[name]}
        by_split: dict[str, list[Annotation]] = {name: [] for name in SPLIT_NAMES}
        for a in rows:
            by_split[where[a.post_id]].append(a)
        self.criteria = sorted({a.criterion for a in rows})
        undescribed = [c for c in self.criteria if c not in CRITERION_DESCRIPTIONS]
        if undescribed:
            counts = {c: sum(a.criterion == c for a in rows) for c in undescribed}
            named = (f"{c} ({n} rows, read as {criterion_text(c)!r})" for c, n in counts.items())
            log.warning(
                "%s: criteria without a description, so the encoder reads their name instead: "
                "%s. The described ones are %s; a rare name may be a misspelling of one.",
                self.annotations_path,
                ", ".join(named),
                sorted(CRITERION_DESCRIPTIONS),
            )
        return posts, by_split

    def _load_tokenizer(self):
        def corpus():
            # Train split only: validation and test words stay unseen by the vocabulary.
            posts, by_split = self._read()
            train = by_split["train"]
            yield from (posts[p] for p in sorted({a.post_id for a in train}))
            yield from (a.sentence_text for a in train)
            yield from (criterion_text(c) for c in self.criteria)
            yield from CRITERION_DESCRIPTIONS.values()

        tokenizer = get_tokenizer(
            self.encoder,
            self.data_dir,
            corpus,
            vocab_size=self.tiny_vocab_size,
            folder_name=self._trained_spec.get("tokenizer_folder"),
        )
        trained = self._trained_spec.get("tokenizer_digest")
        if trained is not None and vocabulary_digest(tokenizer) != trained:
            raise DataError(
                f"the tokenizer of encoder={self.encoder} is not the one the checkpoint was "
                f"trained with (vocabulary digest {vocabulary_digest(tokenizer)}, trained "
                f"{trained}): its token ids would mean other words to the model. Use the "
                "encoder folder and data the checkpoint was trained with."
            )
        return tokenizer

    def use_trained_spec(self, spec: dict[str, Any]) -> None:
        """Eval and predict read text with the tokenizer the checkpoint was trained with."""
        self._trained_spec = dict(spec)

    def setup(self, stage: str | None = None) -> None:
        """Read, split, tokenise and build the three data sets (once).

        `predict` does nothing: setup_predict prepares the inputs without the training data.
        """
        if self.datasets or stage == "predict":
            return
        posts, by_split = self._read()
        # core.seen_rows: a post is named by its text, so a copy under another id is the same row
        self._split_texts = {
            name: [posts[p] for p in sorted({a.post_id for a in by_split[name]})]
            for name in SPLIT_NAMES
        }
        self.tokenizer = self._load_tokenizer()
        for name in SPLIT_NAMES:
            if not by_split[name]:
                raise DataError(
                    f"the {name} split has no annotations; use more posts or other split_ratios."
                )
            tensors = self.build_split(name, posts, by_split[name])
            self.datasets[name] = TensorDictDataset(tensors, self.x_keys, self.y_keys)
        log.info(
            "text data: %s examples (train/val/test), criteria %s",
            [len(self.datasets[n]) for n in SPLIT_NAMES],
            self.criteria,
        )

    @abstractmethod
    def build_split(
        self, name: str, posts: dict[str, str], rows: list[Annotation]
    ) -> dict[str, torch.Tensor]:
        """Tensors of one split (implemented by each task)."""

    def _record_spans(self, name: str, report: SpanReport, *, dropped: bool) -> None:
        report.log(f"{name} split", dropped=dropped)
        self.span_reports[name] = report.as_dict()

    def row_keys(self, split: str) -> list[str]:
        """The texts of the posts of a split (core.seen_rows)."""
        return list(self._split_texts[split])

    # ---- what the model needs ---------------------------------------------------------------
    def spec(self) -> dict[str, Any]:
        """Tasks, vocabulary size of the tokenizer, and the criteria seen in the data."""
        if self.tokenizer is None:
            raise DataError("call setup() before spec()")
        return {
            "tasks": {TASK: list(CLASSES)},
            "num_classes": len(CLASSES),
            "vocab_size": len(self.tokenizer),
            # eval/predict check they read text into the same ids (a rebuilt or other tokenizer
            # read every id wrongly, silently); the tiny tokenizer's cache folder is named
            "tokenizer_digest": vocabulary_digest(self.tokenizer),
            "tokenizer_folder": self._tokenizer_folder(),
            "criteria": list(self.criteria),
            "span_reports": dict(self.span_reports),
        }

    def _tokenizer_folder(self) -> str | None:
        path = getattr(self.tokenizer, "name_or_path", None)
        return Path(path).name if self.encoder == TINY and path else None

    def baseline_features(self, split: str) -> tuple[str, Any, dict[str, Any], str] | None:
        """Token counts over the training split's vocabulary and the criterion labels, for the
        linear baseline; None for span-only data (no class labels to predict)."""
        import numpy as np

        tensors = self.datasets[split].tensors
        if "labels" not in tensors:
            return None
        train = self.datasets["train"].tensors
        vocabulary = np.unique(train["input_ids"][train["attention_mask"].bool()].numpy())
        ids, mask = tensors["input_ids"].numpy(), tensors["attention_mask"].numpy().astype(bool)
        column = np.searchsorted(vocabulary, ids).clip(max=len(vocabulary) - 1)
        known = mask & (vocabulary[column] == ids)  # tokens the training split never had: dropped
        rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)
        counts = np.zeros((len(ids), len(vocabulary)), dtype=np.float32)
        np.add.at(counts, (rows[known], column[known]), 1.0)
        labels = {TASK: tensors["labels"].numpy()}
        return "classification", counts, labels, f"counts of {len(vocabulary)} training tokens"

    def report_groups(self, split: str) -> dict[str, list[str]]:
        """The criterion of each row the evaluation report scores (in its order), so the
        report breaks its metrics down by criterion; empty before setup."""
        rows = self._row_criteria.get(split)
        return {"criterion": list(rows)} if rows else {}

    def class_counts(self) -> dict[str, list[int]]:
        """Training-row counts per class, for inverse-frequency class weights."""
        labels = self.datasets["train"].tensors["labels"]
        return {TASK: torch.bincount(labels, minlength=len(CLASSES)).tolist()}

    # ---- loaders ----------------------------------------------------------------------------
    def _loader(
        self, dataset: Dataset, shuffle: bool, batch_size: int, shared: str | None = None
    ) -> DataLoader:
        """``shared``: the name of a val/test split whose rows DDP processes share out."""
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            sampler=eval_sampler(len(dataset), shared) if shared else None,  # type: ignore[arg-type]
            collate_fn=_keep,
            generator=torch.Generator().manual_seed(self.seed),
            **self.loader_settings.dataloader_kwargs(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["train"], True, self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["val"], False, self.eval_batch_size, "val")

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["test"], False, self.eval_batch_size, "test")

    def report_dataloaders(self) -> dict[str, DataLoader]:
        """Unshuffled loaders of every split, for classification reports."""
        return {n: self._loader(d, False, self.eval_batch_size) for n, d in self.datasets.items()}

    def predict_dataloader(self) -> DataLoader:
        if self._predict is None:
            raise DataError("call setup_predict(input_path, spec) before predict_dataloader()")
        return self._loader(self._predict, False, self.eval_batch_size)

    def _predict_tokenizer(self):
        """The tokenizer for prediction; for `tiny` it comes from the training data's cache."""
        if self.tokenizer is None:
            self.tokenizer = self._load_tokenizer()
        return self.tokenizer
