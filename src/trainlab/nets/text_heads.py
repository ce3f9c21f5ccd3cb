"""Heads on transformer encoders: criteria classification, evidence spans, and both together.

Every net takes one batch dict `x` with `input_ids`, `attention_mask`, optional `token_type_ids`
and (for spans) `context_mask`, the tokens of the post where a span may lie.
"""

from __future__ import annotations

import torch
from torch import nn

from trainlab.errors import ConfigError
from trainlab.nets.text_encoders import PACKAGED_MODEL, TextEncoder

# Large enough to vanish in a softmax, small enough for float16.
MASKED_LOGIT = -1.0e4


def mlp_head(in_features: int, out_features: int, hidden: list[int], dropout: float) -> nn.Module:
    """Dropout -> [Linear -> GELU -> Dropout] * len(hidden) -> Linear."""
    layers: list[nn.Module] = [nn.Dropout(dropout)]
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, int(size)), nn.GELU(), nn.Dropout(dropout)]
        width = int(size)
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def _num_classes(tasks: dict[str, list[str]] | None, num_classes: int | None) -> int:
    if tasks:
        if len(tasks) != 1:
            raise ConfigError(f"text heads predict one task; the data gives {sorted(tasks)}.")
        return len(next(iter(tasks.values())))
    if num_classes is None:
        raise ConfigError("give `tasks` (from the data spec) or `num_classes` to the text head.")
    return int(num_classes)


def _encode(encoder: TextEncoder, x: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return encoder(x["input_ids"], x["attention_mask"], x.get("token_type_ids"))


class SpanHead(nn.Module):
    """Token states -> start/end logits, masked outside the context."""

    def __init__(self, in_features: int, dropout: float, hidden: list[int] | None = None) -> None:
        super().__init__()
        self.proj = mlp_head(in_features, 2, list(hidden or []), dropout)

    def forward(self, tokens: torch.Tensor, context_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.proj(tokens).float()
        keep = context_mask.bool()
        start, end = logits.unbind(-1)
        return {
            "start_logits": start.masked_fill(~keep, MASKED_LOGIT),
            "end_logits": end.masked_fill(~keep, MASKED_LOGIT),
        }


class CriteriaClassifier(nn.Module):
    """Does the sentence express the criterion? Pooled encoder output -> MLP -> class logits.

    Args:
        encoder: encoder name (see trainlab.nets.text_encoders).
        tasks: {task: class names} from the data spec (one task).
        num_classes: alternative to `tasks`.
        vocab_size: tokenizer size (needed by the tiny encoder; from the data spec).
        pooling: cls | mean | pooler.
        head_hidden: widths of the head's hidden layers ([] = a linear head).
        dropout: dropout before every head layer.
        gradient_checkpointing: recompute encoder activations in backward.
        tiny: overrides for the tiny BERT.
    """

    def __init__(
        self,
        encoder: str = PACKAGED_MODEL,
        tasks: dict[str, list[str]] | None = None,
        num_classes: int | None = None,
        vocab_size: int | None = None,
        pooling: str = "mean",
        head_hidden: list[int] | None = None,
        dropout: float = 0.1,
        gradient_checkpointing: bool = False,
        tiny: dict | None = None,
    ) -> None:
        super().__init__()
        n_out = _num_classes(tasks, num_classes)
        self.encoder = TextEncoder(encoder, vocab_size, pooling, gradient_checkpointing, tiny)
        self.head = mlp_head(self.encoder.hidden_size, n_out, list(head_hidden or []), dropout)

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        _, pooled = _encode(self.encoder, x)
        return self.head(pooled)


class EvidenceSpanExtractor(nn.Module):
    """Where in the post is the evidence? Token states -> start/end logits."""

    def __init__(
        self,
        encoder: str = PACKAGED_MODEL,
        vocab_size: int | None = None,
        dropout: float = 0.1,
        span_hidden: list[int] | None = None,
        gradient_checkpointing: bool = False,
        tiny: dict | None = None,
    ) -> None:
        super().__init__()
        self.encoder = TextEncoder(encoder, vocab_size, "cls", gradient_checkpointing, tiny)
        self.span = SpanHead(self.encoder.hidden_size, dropout, span_hidden)

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        tokens, _ = _encode(self.encoder, x)
        return self.span(tokens, x["context_mask"])


class JointCriteriaEvidence(nn.Module):
    """Two encoders: one decides the criterion, and its pooled vector is fused into every token
    of the other before the span head.

    Args:
        fusion: `concat` (token ++ criteria vector -> Linear) or `add` (token + Linear(vector)).
        Other arguments as in CriteriaClassifier / EvidenceSpanExtractor.
    """

    def __init__(
        self,
        encoder: str = PACKAGED_MODEL,
        tasks: dict[str, list[str]] | None = None,
        num_classes: int | None = None,
        vocab_size: int | None = None,
        pooling: str = "mean",
        head_hidden: list[int] | None = None,
        span_hidden: list[int] | None = None,
        dropout: float = 0.1,
        fusion: str = "concat",
        gradient_checkpointing: bool = False,
        tiny: dict | None = None,
    ) -> None:
        super().__init__()
        if fusion not in ("concat", "add"):
            raise ConfigError(f"model.net.fusion={fusion!r} must be 'concat' or 'add'.")
        n_out = _num_classes(tasks, num_classes)
        self.criteria_encoder = TextEncoder(
            encoder, vocab_size, pooling, gradient_checkpointing, tiny
        )
        self.evidence_encoder = TextEncoder(
            encoder, vocab_size, "cls", gradient_checkpointing, tiny
        )
        c_dim, e_dim = self.criteria_encoder.hidden_size, self.evidence_encoder.hidden_size
        self.criteria_head = mlp_head(c_dim, n_out, list(head_hidden or []), dropout)
        self.fusion = fusion
        fused_in = c_dim + e_dim if fusion == "concat" else c_dim
        self.fuse = nn.Linear(fused_in, e_dim)
        self.span = SpanHead(e_dim, dropout, span_hidden)

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        _, criteria_vec = _encode(self.criteria_encoder, x)
        tokens, _ = _encode(self.evidence_encoder, x)
        expanded = criteria_vec.unsqueeze(1).expand(-1, tokens.size(1), -1)
        if self.fusion == "concat":
            fused = torch.nn.functional.gelu(self.fuse(torch.cat([tokens, expanded], dim=-1)))
        else:
            fused = tokens + self.fuse(expanded)
        return {"logits": self.criteria_head(criteria_vec), **self.span(fused, x["context_mask"])}


class SharedCriteriaEvidence(nn.Module):
    """One encoder, two heads: pooled vector -> criteria logits, tokens -> span logits."""

    def __init__(
        self,
        encoder: str = PACKAGED_MODEL,
        tasks: dict[str, list[str]] | None = None,
        num_classes: int | None = None,
        vocab_size: int | None = None,
        pooling: str = "mean",
        head_hidden: list[int] | None = None,
        span_hidden: list[int] | None = None,
        dropout: float = 0.1,
        gradient_checkpointing: bool = False,
        tiny: dict | None = None,
    ) -> None:
        super().__init__()
        n_out = _num_classes(tasks, num_classes)
        self.encoder = TextEncoder(encoder, vocab_size, pooling, gradient_checkpointing, tiny)
        self.criteria_head = mlp_head(
            self.encoder.hidden_size, n_out, list(head_hidden or []), dropout
        )
        self.span = SpanHead(self.encoder.hidden_size, dropout, span_hidden)

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        tokens, pooled = _encode(self.encoder, x)
        return {"logits": self.criteria_head(pooled), **self.span(tokens, x["context_mask"])}
