"""SpectrumTransformer: shapes, float32 encoders under autocast, padding mask, lr groups."""

import pytest
import torch

from trainlab.nets.spectrum_transformer import (
    PeakEncoder,
    SinusoidalMzEncoding,
    SpectrumTransformer,
)


def _batch(batch: int = 3, peaks: int = 7, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mz = torch.rand(batch, peaks, generator=g) * 900 + 100
    intensity = torch.rand(batch, peaks, generator=g)
    precursor = torch.rand(batch, generator=g) * 900 + 100
    settings = torch.randn(batch, 22, generator=g)
    return mz, intensity, precursor, settings


def _small() -> SpectrumTransformer:
    torch.manual_seed(0)
    return SpectrumTransformer(d_model=16, nhead=2, dim_feedforward=32, n_layers=2, dropout=0.1)


def test_one_logit_per_spectrum():
    assert _small()(*_batch()).shape == (3,)


def test_mz_encoding_spans_the_wavelengths():
    encoding = SinusoidalMzEncoding(8, min_wavelength=0.001, max_wavelength=10_000.0)
    wavelengths = 2 * torch.pi / encoding.angular
    assert wavelengths[0].item() == pytest.approx(0.001, rel=1e-4)
    assert wavelengths[-1].item() == pytest.approx(10_000.0, rel=1e-4)
    out = encoding(torch.tensor([0.0, 500.0]))
    assert out.shape == (2, 8)
    assert torch.allclose(out[0], torch.tensor([0.0] * 4 + [1.0] * 4))


def test_encoders_stay_float32_under_autocast():
    encoder = PeakEncoder(16)
    mz, intensity, _, _ = _batch()
    reference = encoder(mz, intensity)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.bfloat16  # autocast is on
        inside = encoder(mz, intensity)
    assert inside.dtype == torch.float32
    assert torch.equal(inside, reference)


def test_bf16_would_erase_small_mz_differences():
    encoding = SinusoidalMzEncoding(64)
    mz = torch.tensor([500.0, 500.01])
    full = encoding(mz)
    assert not torch.allclose(full[0], full[1], atol=1e-3)
    assert torch.equal(mz.bfloat16()[0], mz.bfloat16()[1])  # why the encoders avoid bf16


def test_model_runs_under_bf16_autocast():
    model = _small().eval()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        logits = model(*_batch())
    assert logits.shape == (3,) and torch.isfinite(logits.float()).all()


def test_padding_does_not_change_the_output():
    model = _small().eval()
    mz, intensity, precursor, settings = _batch(batch=2, peaks=5)
    padded_mz = torch.cat([mz, torch.zeros(2, 4)], dim=1)
    padded_intensity = torch.cat([intensity, torch.rand(2, 4)], dim=1)  # ignored where m/z = 0
    with torch.no_grad():
        plain = model(mz, intensity, precursor, settings)
        padded = model(padded_mz, padded_intensity, precursor, settings)
    assert torch.allclose(plain, padded, atol=1e-5)


def test_mask_hides_peaks_of_a_shorter_row():
    model = _small().eval()
    mz, intensity, precursor, settings = _batch(batch=1, peaks=6)
    short_mz = mz.clone()
    short_mz[0, 3:] = 0.0
    with torch.no_grad():
        alone = model(mz[:, :3], intensity[:, :3], precursor, settings)
        masked = model(short_mz, intensity, precursor, settings)
        full = model(mz, intensity, precursor, settings)
    assert torch.allclose(alone, masked, atol=1e-5)
    assert not torch.allclose(full, masked, atol=1e-5)


def test_parameter_groups_split_encoder_and_rest():
    model = _small()
    groups = model.parameter_groups(encoder_lr=5e-6, linear_lr=1e-5, weight_decay=1e-3)
    assert [g["lr"] for g in groups] == [5e-6, 1e-5]
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    encoder_ids = {id(p) for p in model.encoder.parameters()}
    assert {id(p) for p in groups[0]["params"]} == encoder_ids
    torch.optim.AdamW(groups)  # the groups are valid AdamW input


def test_bad_heads_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        SpectrumTransformer(d_model=10, nhead=3)
