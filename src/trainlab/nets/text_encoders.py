"""Transformer text encoders, strictly offline.

An encoder is named by one string (`model.net.encoder`): `tiny` (a small random BERT),
`all-MiniLM-L6-v2` (the packaged model), a local model folder, or a hub name already in the
local cache. Names are resolved to folders, and tokenizers loaded, in `trainlab.text_assets`
(shared with the text DataModules); this module builds the encoders themselves.
"""

from __future__ import annotations

import torch
from torch import nn

from trainlab.errors import ConfigError
from trainlab.text_assets import PACKAGED_MODEL, TINY, resolve_encoder_path

POOLINGS = ("cls", "mean", "pooler")


def build_tiny_bert(
    vocab_size: int,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 512,
):
    """A small randomly initialised BertModel (fast tests; no weights files needed)."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=0,
    )
    return BertModel(config, add_pooling_layer=True)


def load_pretrained_encoder(name: str):
    """AutoModel from the folder `name` resolves to, loaded with local files only."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    path = resolve_encoder_path(name)
    hf_logging.disable_progress_bar()
    return AutoModel.from_pretrained(str(path), local_files_only=True)


class TextEncoder(nn.Module):
    """A transformer encoder that returns token states and a pooled sentence vector.

    Args:
        encoder: `tiny`, `all-MiniLM-L6-v2`, a local folder, or a cached hub name.
        vocab_size: tokenizer vocabulary size (required for `tiny`; from the data spec).
        pooling: `cls` (first token), `mean` (masked mean of tokens) or `pooler` (BERT pooler).
        gradient_checkpointing: trade compute for memory in the encoder layers.
        tiny: overrides for build_tiny_bert (hidden_size, num_layers, ...).
    """

    def __init__(
        self,
        encoder: str = PACKAGED_MODEL,
        vocab_size: int | None = None,
        pooling: str = "mean",
        gradient_checkpointing: bool = False,
        tiny: dict | None = None,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling={pooling!r} is not one of {list(POOLINGS)}.")
        if encoder == TINY:
            if vocab_size is None:
                raise ConfigError(
                    "encoder=tiny needs vocab_size (the data module's spec provides it)."
                )
            self.model = build_tiny_bert(vocab_size, **(tiny or {}))
        else:
            self.model = load_pretrained_encoder(encoder)
            # from_pretrained returns eval mode; Lightning keeps a module's mode, so without
            # this the encoder's dropout would stay off during fine-tuning.
            self.model.train()
        if pooling == "pooler" and getattr(self.model, "pooler", None) is None:
            raise ConfigError(f"pooling=pooler: encoder {encoder!r} has no pooler layer.")
        if gradient_checkpointing:
            # transformers 5 renamed it; 4.x only has the old name.
            enable = getattr(self.model, "activation_checkpointing_enable", None)
            (enable or self.model.gradient_checkpointing_enable)()
        self.pooling = pooling
        self.hidden_size = int(self.model.config.hidden_size)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (token states (B, T, H), pooled (B, H))."""
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        tokens = out.last_hidden_state
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        elif self.pooling == "pooler":
            pooled = out.pooler_output
        else:
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return tokens, pooled
