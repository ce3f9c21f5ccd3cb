"""Span extraction metrics: best-span decoding, exact match and token-overlap F1.

Spans are inclusive token positions (start, end). Token F1 counts the overlap of predicted and gold
token positions (SQuAD's F1 on sub-word positions rather than normalised words).

Repeated evidence: when the evidence text occurs more than once in the post, the other copies
are alternative gold spans (`alternatives`: (B, K) start and end positions, -1 for none), and
a prediction scores its best against any of them, as SQuAD scores the best of several gold
answers. A prediction of the second copy of the same sentence is then not a miss.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric


def decode_best_span(
    start_logits: torch.Tensor, end_logits: torch.Tensor, *, max_span_len: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (start, end) maximising start + end logits with start <= end (< start + max_span_len).

    Args:
        start_logits: (B, T) (masked positions already very negative).
        end_logits: (B, T).
        max_span_len: longest span in tokens; None allows any length.

    Returns:
        Two LongTensors (B,): start and end positions.
    """
    start_logits, end_logits = start_logits.float(), end_logits.float()
    scores = start_logits.unsqueeze(2) + end_logits.unsqueeze(1)  # (B, T_start, T_end)
    length = start_logits.size(1)
    allowed = torch.ones(length, length, dtype=torch.bool, device=scores.device).triu()
    if max_span_len is not None:
        allowed &= ~torch.ones_like(allowed).triu(diagonal=int(max_span_len))
    scores = scores.masked_fill(~allowed, float("-inf"))
    best = scores.flatten(1).argmax(dim=1)
    return best // length, best % length


Alternatives = tuple[torch.Tensor, torch.Tensor] | None


def _best_of_alternatives(score, pred_start, pred_end, gold_start, gold_end, alternatives):
    best = score(pred_start, pred_end, gold_start, gold_end)
    if alternatives is None:
        return best
    alt_start, alt_end = (torch.as_tensor(a).to(gold_start.device) for a in alternatives)
    for k in range(alt_start.shape[1] if alt_start.ndim == 2 else 0):
        present = alt_start[:, k] >= 0
        value = score(pred_start, pred_end, alt_start[:, k].clamp(min=0), alt_end[:, k])
        best = torch.where(present, torch.maximum(best, value), best)
    return best


def span_exact_match(
    pred_start: torch.Tensor,
    pred_end: torch.Tensor,
    gold_start: torch.Tensor,
    gold_end: torch.Tensor,
    alternatives: Alternatives = None,
) -> torch.Tensor:
    """(B,) float: 1 where the predicted span equals the gold span or an alternative."""
    return _best_of_alternatives(
        _exact_match, pred_start, pred_end, gold_start, gold_end, alternatives
    )


def _exact_match(pred_start, pred_end, gold_start, gold_end) -> torch.Tensor:
    return ((pred_start == gold_start) & (pred_end == gold_end)).float()


def span_token_f1(
    pred_start: torch.Tensor,
    pred_end: torch.Tensor,
    gold_start: torch.Tensor,
    gold_end: torch.Tensor,
    alternatives: Alternatives = None,
) -> torch.Tensor:
    """(B,) float: F1 of the token positions shared by the predicted span and the gold span,
    the best over the gold span and its alternatives (0 if none overlaps)."""
    return _best_of_alternatives(
        _token_f1, pred_start, pred_end, gold_start, gold_end, alternatives
    )


def _token_f1(pred_start, pred_end, gold_start, gold_end) -> torch.Tensor:
    overlap = (torch.minimum(pred_end, gold_end) - torch.maximum(pred_start, gold_start) + 1).clamp(
        min=0
    )
    pred_len = (pred_end - pred_start + 1).clamp(min=0)
    gold_len = (gold_end - gold_start + 1).clamp(min=0)
    overlap, pred_len, gold_len = overlap.float(), pred_len.float(), gold_len.float()
    precision = torch.where(
        pred_len > 0, overlap / pred_len.clamp(min=1), torch.zeros_like(overlap)
    )
    recall = torch.where(gold_len > 0, overlap / gold_len.clamp(min=1), torch.zeros_like(overlap))
    denom = precision + recall
    return torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), 0.0)


class SpanMetrics(Metric):
    """Running mean of exact match and token F1 over (pred, gold) spans: {"em", "token_f1"}."""

    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("em_sum", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("f1_sum", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(
        self,
        pred_start: torch.Tensor,
        pred_end: torch.Tensor,
        gold_start: torch.Tensor,
        gold_end: torch.Tensor,
        alternatives: Alternatives = None,
    ) -> None:
        gold = (gold_start, gold_end, alternatives)
        self.em_sum += span_exact_match(pred_start, pred_end, *gold).sum()
        self.f1_sum += span_token_f1(pred_start, pred_end, *gold).sum()
        self.count += pred_start.numel()

    def compute(self) -> dict[str, torch.Tensor]:
        count = self.count.clamp(min=1.0)
        return {"em": self.em_sum / count, "token_f1": self.f1_sum / count}
