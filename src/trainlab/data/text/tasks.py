"""The three text DataModules: criteria (sentence classification), evidence (spans), joint."""

from __future__ import annotations

import csv
import io
import logging
from abc import abstractmethod
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from trainlab.data.text.datamodule import CLASSES, TASK, TensorDictDataset, TextDataModule
from trainlab.data.text.encoding import cut_sentences, encode_criteria, encode_spans
from trainlab.data.text.evidence import SpanReport
from trainlab.data.text.examples import (
    CriteriaExample,
    SpanExample,
    criteria_examples,
    evidence_examples,
    joint_examples,
)
from trainlab.data.text.normalise import canonical_criterion, visible
from trainlab.data.text.readers import Annotation, normalise_status, read_table
from trainlab.data.text.windows import PostWindows, encode_windows, merge_windows
from trainlab.errors import DataError
from trainlab.io import atomic_write_text

log = logging.getLogger(__name__)


def _warn_untrained_criteria(input_path: str, used: list[str], spec: dict[str, Any]) -> None:
    """The model only learned the criteria of its training data; others get a guess."""
    trained = set(spec.get("criteria") or [])
    unknown = sorted({c for c in used if c not in trained})
    if trained and unknown:
        log.warning(
            "%s: %d row(s) ask about criteria the model was not trained on: %s (trained: %s); "
            "their predictions are guesses",
            input_path,
            sum(c in unknown for c in used),
            unknown,
            sorted(trained),
        )


def _read_input(path: str, required: tuple[str, ...], optional: tuple[str, ...], other: str):
    """read_table, with a pointer to the other kind of model when the columns are the other
    kind's (a sentences file given to a post model, or the reverse)."""
    if not Path(path).is_file():
        raise DataError(f"input={path}: file not found; give the CSV to predict on (input=...)")
    try:
        return read_table(path, required=required, optional=optional)
    except DataError as err:
        header = Path(path).read_text(encoding="utf-8-sig", errors="replace").split("\n", 1)[0]
        if other in {c.strip().lower() for c in header.split(",")}:
            kind = "sentences" if other == "sentence_text" else "posts"
            raise DataError(
                f"{err} The file has {kind} ({other!r}): "
                + (
                    "this checkpoint finds evidence in posts (post_id, text); classify "
                    "sentences with a text/criteria checkpoint."
                    if kind == "sentences"
                    else "this checkpoint classifies sentences; search posts with a "
                    "text/evidence or text/joint checkpoint."
                )
            ) from None
        raise


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


class TextCriteriaDataModule(TextDataModule):
    """(criterion description, sentence) -> does the sentence express it (absent/present)."""

    def build_split(
        self, name: str, posts: dict[str, str], rows: list[Annotation]
    ) -> dict[str, torch.Tensor]:
        examples = criteria_examples(rows)
        self._row_criteria[name] = [e.criterion for e in examples]
        self._warn_cut(f"{name} split", examples)
        return encode_criteria(self.tokenizer, examples, max_length=self.max_length)

    def _warn_cut(self, where: str, examples: list[CriteriaExample]) -> None:
        cut = cut_sentences(self.tokenizer, examples, self.max_length)
        if cut:
            log.warning(
                "%s: %d of %d sentence(s) have more tokens (with the criterion) than "
                "data.max_length=%d; the model reads only their start, e.g. %s. Raise "
                "data.max_length to read them whole.",
                where,
                len(cut),
                len(examples),
                self.max_length,
                cut[:5],
            )

    def setup_predict(self, input_path: str, spec: dict[str, Any]) -> None:
        """Sentences to classify: a CSV with DSM5_symptom and sentence_text (the annotations
        layout; post_id, sentence_id and status are used when present)."""
        table = _read_input(
            input_path,
            ("DSM5_symptom", "sentence_text"),
            ("post_id", "sentence_id", "status"),
            other="text",
        )
        examples = []
        for i, rec in enumerate(table):
            where = f"{input_path}, line {i + 2}"
            criterion = canonical_criterion(rec["DSM5_symptom"])
            if not visible(rec["sentence_text"]) or not criterion:
                raise DataError(
                    f"{where}: sentence_text and DSM5_symptom must not be empty (got "
                    f"{rec['sentence_text']!r}, {rec['DSM5_symptom']!r}); drop the row."
                )
            status = rec["status"].strip()
            label = normalise_status(status, where=where) if status else -1
            examples.append(
                CriteriaExample(
                    rec["sentence_id"].strip() or str(i),
                    rec["post_id"].strip(),
                    criterion,
                    rec["sentence_text"],
                    label,
                )
            )
        _warn_untrained_criteria(input_path, [e.criterion for e in examples], spec)
        tokenizer = self._predict_tokenizer()
        self._warn_cut(input_path, examples)
        tensors = encode_criteria(tokenizer, examples, max_length=self.max_length)
        self._predict = TensorDictDataset(tensors, self.x_keys, self.y_keys)
        self._predict_rows = [
            {"post_id": e.post_id, "sentence_id": e.example_id, "criterion": e.criterion}
            for e in examples
        ]

    def write_predictions(
        self, outputs: list[dict[str, Any]], out_dir: Path, spec: dict[str, Any]
    ) -> list[Path]:
        """predictions.csv: one row per sentence with P(present) and the predicted class."""
        probs = torch.cat([o["probs"][TASK] for o in outputs]).float()
        rows = []
        for meta, p in zip(self._predict_rows, probs.tolist(), strict=True):
            best = max(range(len(p)), key=p.__getitem__)
            rows.append([*meta.values(), CLASSES[best], f"{p[1]:.6f}"])
        header = ["post_id", "sentence_id", "DSM5_symptom", "predicted", "prob_present"]
        target = Path(out_dir) / "predictions.csv"
        atomic_write_text(target, _csv(header, rows))
        return [target]


class _SpanDataModule(TextDataModule):
    """Shared by evidence and joint: (criterion, post) inputs with span targets."""

    x_keys = ["input_ids", "attention_mask", "token_type_ids", "context_mask"]
    y_keys = [
        "labels",
        "start_positions",
        "end_positions",
        "span_mask",
        "alt_start_positions",
        "alt_end_positions",
    ]
    drop_cut_spans = True

    def __init__(self, *args: Any, window_overlap: int | None = None, **kwargs: Any) -> None:
        """As TextDataModule; `window_overlap`: tokens consecutive windows of a long post share
        at eval and predict (None: a quarter of max_length), see trainlab.data.text.windows."""
        super().__init__(*args, **kwargs)
        self.window_overlap = self.max_length // 4 if window_overlap is None else window_overlap
        self._split_examples: dict[str, list[SpanExample]] = {}

    @abstractmethod
    def make_examples(
        self, posts: dict[str, str], rows: list[Annotation], report: SpanReport
    ) -> list[SpanExample]:
        """Span examples of the annotated rows (evidence: positives only; joint: all)."""

    def build_split(
        self, name: str, posts: dict[str, str], rows: list[Annotation]
    ) -> dict[str, torch.Tensor]:
        report = SpanReport()
        examples = self.make_examples(posts, rows, report)
        if not examples:
            raise DataError(f"the {name} split has no usable evidence examples.")
        tensors, _ = encode_spans(
            self.tokenizer,
            examples,
            report,
            max_length=self.max_length,
            drop_cut_spans=self.drop_cut_spans,
        )
        self._record_spans(name, report, dropped=self.drop_cut_spans)
        self._split_examples[name] = examples  # whole posts, for evaluation_windows
        self._row_criteria[name] = [e.criterion for e in examples]
        tensors.pop("offset_mapping", None)
        return tensors

    def setup_predict(self, input_path: str, spec: dict[str, Any]) -> None:
        """Posts to search: a CSV with post_id and text; with a DSM5_symptom column only that
        criterion is searched in the row's post, otherwise every criterion of the training data."""
        table = _read_input(
            input_path, ("post_id", "text"), ("DSM5_symptom",), other="sentence_text"
        )
        criteria = list(spec.get("criteria") or [])
        examples = []
        for line, rec in enumerate(table, start=2):
            if not visible(rec["text"]):  # nothing to search: every span would be made up
                raise DataError(
                    f"{input_path}, line {line}: the post's text is empty (got {rec['text']!r}); "
                    "drop the row."
                )
            named = canonical_criterion(rec["DSM5_symptom"])
            wanted = [named] if named else criteria
            if not wanted:
                raise DataError(
                    f"{input_path}: no DSM5_symptom column and the checkpoint names no criteria; "
                    "add a DSM5_symptom column."
                )
            post_id = rec["post_id"].strip()
            for crit in wanted:
                example = SpanExample(f"{post_id}:{crit}", post_id, crit, rec["text"], 0, None)
                examples.append(example)
        _warn_untrained_criteria(input_path, [e.criterion for e in examples], spec)
        self._predict_windows = self._windows(self._predict_tokenizer(), examples)
        self._predict = TensorDictDataset(self._predict_windows.tensors, self.x_keys, self.y_keys)
        self._predict_rows = [
            {"post_id": e.post_id, "criterion": e.criterion, "post": e.post} for e in examples
        ]
        counts = self._predict_windows.windows_per_example
        long = sorted({e.post_id for e, n in zip(examples, counts, strict=True) if n > 1})
        if long:
            log.warning(
                "%s: %d of %d post(s) are longer than data.max_length=%d tokens; each is searched "
                "in %d to %d windows overlapping by data.window_overlap=%d tokens (column "
                "`windows`), e.g. %s",
                input_path,
                len(long),
                len({e.post_id for e in examples}),
                self.max_length,
                min(n for n in counts if n > 1),
                max(counts),
                self.window_overlap,
                long[:5],
            )

    def _windows(self, tokenizer, examples: list[SpanExample]) -> PostWindows:
        return encode_windows(
            tokenizer, examples, max_length=self.max_length, overlap=self.window_overlap
        )

    def evaluation_post_windows(self, split: str) -> PostWindows | None:
        """The split's examples over whole posts, as windows (None before setup)."""
        examples = self._split_examples.get(split)
        return self._windows(self.tokenizer, examples) if examples else None

    def evaluation_windows(self, split: str) -> tuple[DataLoader, Any, dict[str, int]] | None:
        """The split's examples over whole posts (windows), for the evaluation report:
        (loader of the windows, merge of the model's outputs per example, window counts)."""
        windows = self.evaluation_post_windows(split)
        if windows is None:
            return None
        dataset = TensorDictDataset(windows.tensors, self.x_keys, self.y_keys)
        loader = self._loader(dataset, False, self.eval_batch_size)
        summary = windows.summary(self.max_length, self.window_overlap)
        return loader, lambda outputs: [merge_windows(outputs, windows)], summary

    def write_predictions(
        self, outputs: list[dict[str, Any]], out_dir: Path, spec: dict[str, Any]
    ) -> list[Path]:
        """predictions.csv: per (post, criterion) the evidence's characters and text (and, for
        joint models, P(present)), merged over the post's windows (see
        trainlab.data.text.windows), and the number of windows searched."""
        merged = merge_windows(outputs, self._predict_windows)
        has_probs = "probs" in merged
        probs = merged["probs"][TASK][:, 1].tolist() if has_probs else None
        rows = []
        for i, meta in enumerate(self._predict_rows):
            c_start, c_end = int(merged["char_start"][i]), int(merged["char_end"][i])
            row = [meta["post_id"], meta["criterion"], c_start, c_end, meta["post"][c_start:c_end]]
            if probs is not None:
                row += [CLASSES[int(probs[i] >= 0.5)], f"{probs[i]:.6f}"]
            rows.append([*row, int(merged["windows"][i])])
        header = ["post_id", "DSM5_symptom", "evidence_start", "evidence_end", "evidence_text"]
        if probs is not None:
            header += ["predicted", "prob_present"]
        header.append("windows")
        target = Path(out_dir) / "predictions.csv"
        atomic_write_text(target, _csv(header, rows))
        return [target]


class TextEvidenceDataModule(_SpanDataModule):
    """(criterion description, post) -> the token span of the sentence that is the evidence.

    One example per positive annotation; spans truncation cuts are reported and dropped.
    """

    def make_examples(self, posts, rows, report):
        return evidence_examples(posts, rows, report)


class TextJointDataModule(_SpanDataModule):
    """(criterion description, post) -> status of the post for the criterion, and the span of
    its first evidence sentence when present (span targets of cut spans are masked, not moved).
    """

    drop_cut_spans = False

    def make_examples(self, posts, rows, report):
        return joint_examples(posts, rows, report)
