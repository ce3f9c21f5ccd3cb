"""The three text DataModules: criteria (sentence classification), evidence (spans), joint."""

from __future__ import annotations

import csv
import io
from abc import abstractmethod
from pathlib import Path
from typing import Any

import torch

from trainlab.data.text.datamodule import CLASSES, TASK, TensorDictDataset, TextDataModule
from trainlab.data.text.encoding import encode_criteria, encode_spans
from trainlab.data.text.evidence import SpanReport
from trainlab.data.text.examples import (
    CriteriaExample,
    SpanExample,
    criteria_examples,
    evidence_examples,
    joint_examples,
)
from trainlab.data.text.readers import Annotation, normalise_status, read_table
from trainlab.errors import DataError
from trainlab.io import atomic_write_text


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
        return encode_criteria(self.tokenizer, criteria_examples(rows), max_length=self.max_length)

    def setup_predict(self, input_path: str, spec: dict[str, Any]) -> None:
        """Sentences to classify: a CSV with DSM5_symptom and sentence_text (the annotations
        layout; post_id, sentence_id and status are used when present)."""
        table = read_table(
            input_path,
            required=("DSM5_symptom", "sentence_text"),
            optional=("post_id", "sentence_id", "status"),
        )
        examples = []
        for i, rec in enumerate(table):
            status = rec["status"].strip()
            label = normalise_status(status, where=f"{input_path}, line {i + 2}") if status else -1
            examples.append(
                CriteriaExample(
                    rec["sentence_id"] or str(i),
                    rec["post_id"],
                    rec["DSM5_symptom"].strip(),
                    rec["sentence_text"],
                    label,
                )
            )
        tensors = encode_criteria(self._predict_tokenizer(), examples, max_length=self.max_length)
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
    y_keys = ["labels", "start_positions", "end_positions", "span_mask"]
    drop_cut_spans = True

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
        tensors.pop("offset_mapping", None)
        return tensors

    def setup_predict(self, input_path: str, spec: dict[str, Any]) -> None:
        """Posts to search: a CSV with post_id and text; with a DSM5_symptom column only that
        criterion is searched in the row's post, otherwise every criterion of the training data."""
        table = read_table(input_path, required=("post_id", "text"), optional=("DSM5_symptom",))
        criteria = list(spec.get("criteria") or [])
        examples = []
        for rec in table:
            wanted = [rec["DSM5_symptom"].strip()] if rec["DSM5_symptom"].strip() else criteria
            if not wanted:
                raise DataError(
                    f"{input_path}: no DSM5_symptom column and the checkpoint names no criteria; "
                    "add a DSM5_symptom column."
                )
            for crit in wanted:
                examples.append(
                    SpanExample(
                        f"{rec['post_id']}:{crit}", rec["post_id"], crit, rec["text"], 0, None
                    )
                )
        tok = self._predict_tokenizer()
        tensors, kept = encode_spans(tok, examples, SpanReport(), max_length=self.max_length)
        self._predict_offsets = tensors.pop("offset_mapping")
        self._predict = TensorDictDataset(tensors, self.x_keys, self.y_keys)
        self._predict_rows = [
            {"post_id": e.post_id, "criterion": e.criterion, "post": e.post} for e in kept
        ]

    def write_predictions(
        self, outputs: list[dict[str, Any]], out_dir: Path, spec: dict[str, Any]
    ) -> list[Path]:
        """predictions.csv: per (post, criterion) the evidence's characters and text (and, for
        joint models, P(present))."""
        start = torch.cat([o["start"] for o in outputs]).tolist()
        end = torch.cat([o["end"] for o in outputs]).tolist()
        has_probs = "probs" in outputs[0]
        probs = torch.cat([o["probs"][TASK] for o in outputs])[:, 1].tolist() if has_probs else None
        rows = []
        for i, meta in enumerate(self._predict_rows):
            c_start = int(self._predict_offsets[i, start[i], 0])
            c_end = int(self._predict_offsets[i, end[i], 1])
            row = [meta["post_id"], meta["criterion"], c_start, c_end, meta["post"][c_start:c_end]]
            if probs is not None:
                row += [CLASSES[int(probs[i] >= 0.5)], f"{probs[i]:.6f}"]
            rows.append(row)
        header = ["post_id", "DSM5_symptom", "evidence_start", "evidence_end", "evidence_text"]
        if probs is not None:
            header += ["predicted", "prob_present"]
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
