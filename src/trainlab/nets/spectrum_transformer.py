"""A transformer over MS1 peaks with the precursor m/z as a leading token, fused with the 22
instrument settings into one logit ("will this MS2 scan be identified?").

Peaks are encoded with sinusoids of m/z at wavelengths from ``min_wavelength`` to
``max_wavelength`` (about 0.001 to 10,000 m/z), so both the mass defect and the coarse mass are
visible. Those sinusoids lose m/z resolution in fp16/bf16, so the encoders always run in float32,
outside autocast.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class SinusoidalMzEncoding(nn.Module):
    """Sin/cos of ``2 pi m/z / wavelength`` at ``dim // 2`` geometric wavelengths."""

    def __init__(
        self, dim: int, min_wavelength: float = 0.001, max_wavelength: float = 10_000.0
    ) -> None:
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"m/z encoding dim must be even and >= 2, got {dim}")
        n = dim // 2
        exponent = torch.arange(n, dtype=torch.float64) / max(n - 1, 1)
        wavelength = min_wavelength * (max_wavelength / min_wavelength) ** exponent
        self.register_buffer("angular", (2 * math.pi / wavelength).float(), persistent=False)

    def forward(self, mz: Tensor) -> Tensor:
        """``(...,)`` m/z -> ``(..., dim)`` float32 encoding."""
        with torch.autocast(device_type=mz.device.type, enabled=False):
            angle = mz.float().unsqueeze(-1) * self.angular.float()
            return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)


class PeakEncoder(nn.Module):
    """(m/z, intensity) -> ``d_model``: sinusoidal m/z plus a learned intensity code, projected.

    Runs in float32 even under autocast; its output is float32.
    """

    def __init__(
        self, d_model: int, min_wavelength: float = 0.001, max_wavelength: float = 10_000.0
    ) -> None:
        super().__init__()
        self.mz_encoding = SinusoidalMzEncoding(d_model, min_wavelength, max_wavelength)
        self.intensity_encoding = nn.Linear(1, d_model)
        self.projection = nn.Linear(2 * d_model, d_model)

    def forward(self, mz: Tensor, intensity: Tensor) -> Tensor:
        """``(B, P)`` m/z and intensities -> ``(B, P, d_model)`` float32."""
        with torch.autocast(device_type=mz.device.type, enabled=False):
            encoded_mz = self.mz_encoding(mz)
            encoded_intensity = self.intensity_encoding(intensity.float().unsqueeze(-1))
            return self.projection(torch.cat([encoded_mz, encoded_intensity], dim=-1))


class PrecursorEncoder(nn.Module):
    """Precursor m/z -> one ``d_model`` token (float32, outside autocast)."""

    def __init__(
        self, d_model: int, min_wavelength: float = 0.001, max_wavelength: float = 10_000.0
    ) -> None:
        super().__init__()
        self.mz_encoding = SinusoidalMzEncoding(d_model, min_wavelength, max_wavelength)
        self.projection = nn.Linear(d_model, d_model)

    def forward(self, precursor_mz: Tensor) -> Tensor:
        """``(B,)`` -> ``(B, 1, d_model)`` float32."""
        with torch.autocast(device_type=precursor_mz.device.type, enabled=False):
            return self.projection(self.mz_encoding(precursor_mz)).unsqueeze(1)


class SpectrumEncoder(nn.Module):
    """Transformer encoder over [precursor token, peaks]; returns the precursor token's output."""

    def __init__(
        self,
        d_model: int = 128,
        nhead: int = 8,
        dim_feedforward: int = 512,
        n_layers: int = 2,
        dropout: float = 0.3,
        min_wavelength: float = 0.001,
        max_wavelength: float = 10_000.0,
    ) -> None:
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"d_model ({d_model}) must be divisible by nhead ({nhead})")
        self.peak_encoder = PeakEncoder(d_model, min_wavelength, max_wavelength)
        self.precursor_encoder = PrecursorEncoder(d_model, min_wavelength, max_wavelength)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout, batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(
            layer, n_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )

    def forward(self, mz: Tensor, intensity: Tensor, precursor_mz: Tensor) -> Tensor:
        """``(B, P)`` zero-padded peaks (m/z 0 = padding) and ``(B,)`` precursor -> ``(B, d)``."""
        peaks = self.peak_encoder(mz, intensity)
        tokens = torch.cat([self.precursor_encoder(precursor_mz), peaks], dim=1)
        padding = torch.cat(
            [torch.zeros_like(mz[:, :1], dtype=torch.bool), mz <= 0], dim=1
        )  # the precursor token is never padding, so no row is all padding
        return self.transformer(tokens, src_key_padding_mask=padding)[:, 0]


class SpectrumTransformer(nn.Module):
    """Spectrum encoder + instrument branch (22 -> 64 -> ``instrument_embedding_dim``) -> logit.

    ``forward`` returns ``(B,)`` logits. :meth:`parameter_groups` splits the parameters into the
    spectrum encoder (``encoder_lr``) and everything else (``linear_lr``).
    """

    def __init__(
        self,
        d_model: int = 128,
        nhead: int = 8,
        dim_feedforward: int = 512,
        n_layers: int = 2,
        dropout: float = 0.3,
        n_instrument_settings: int = 22,
        instrument_hidden_dim: int = 64,
        instrument_embedding_dim: int = 16,
        fusion_hidden_dim: int = 64,
        min_wavelength: float = 0.001,
        max_wavelength: float = 10_000.0,
    ) -> None:
        super().__init__()
        self.encoder = SpectrumEncoder(
            d_model, nhead, dim_feedforward, n_layers, dropout, min_wavelength, max_wavelength
        )
        self.instrument = nn.Sequential(
            nn.Linear(n_instrument_settings, instrument_hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(instrument_hidden_dim, instrument_embedding_dim),
            nn.ReLU(),
        )
        self.fusion = nn.Sequential(
            nn.Linear(d_model + instrument_embedding_dim, fusion_hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(fusion_hidden_dim, 1),
        )

    def forward(
        self, mz: Tensor, intensity: Tensor, precursor_mz: Tensor, instrument_settings: Tensor
    ) -> Tensor:
        """Logits ``(B,)`` for zero-padded ``(B, P)`` peaks, ``(B,)`` precursors, ``(B, 22)``."""
        spectrum = self.encoder(mz, intensity, precursor_mz)
        settings = self.instrument(instrument_settings.to(spectrum.dtype))
        return self.fusion(torch.cat([spectrum, settings.to(spectrum.dtype)], dim=-1)).squeeze(-1)

    def parameter_groups(
        self, encoder_lr: float, linear_lr: float, weight_decay: float = 0.0
    ) -> list[dict]:
        """Optimizer groups: the spectrum encoder at ``encoder_lr``, the rest at ``linear_lr``."""
        encoder = list(self.encoder.parameters())
        encoder_ids = {id(p) for p in encoder}
        rest = [p for p in self.parameters() if id(p) not in encoder_ids]
        return [
            {"params": encoder, "lr": encoder_lr, "weight_decay": weight_decay, "name": "encoder"},
            {"params": rest, "lr": linear_lr, "weight_decay": weight_decay, "name": "linear"},
        ]
