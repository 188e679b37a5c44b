"""Training-only augmentation (the ``augmentation`` config group).

Two kinds, chosen by cost:

* **On the fly, per training batch** (:class:`Augmentation`, run by the training
  DataLoader's collate function, so validation and test never see it): random gain, a
  random equaliser curve over the mel bins (``filter_augment``, FilterAugment: Nam et al.,
  "FilterAugment: An Acoustic Environmental Data Augmentation Method", ICASSP 2022), a random
  band limit (``band_limit``: nothing above a drawn cut-off, as in a file sampled at 8-22.05
  kHz), mixup (``Beta(alpha, alpha)`` mixing of the power spectrograms, targets combined as a
  union and the hierarchical targets recomputed from the union roll), then SpecAugment
  time and frequency masks.
* **Pre-rendered into the cache** (``audio_variants``, see :func:`render_audio_variant`):
  pitch shift and time stretch need the audio and a phase vocoder, far too slow per batch.
  ``drumtx.prepare`` (or the datamodule) writes ``copies`` extra variants of every
  *training* track, onset times scaled by the stretch factor, and the training set then
  serves originals and variants alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch


def render_audio_variant(wave: np.ndarray, sample_rate: int, semitones: float, stretch: float) -> np.ndarray:
    """Pitch-shift by ``semitones`` and make the audio ``stretch`` times as long.

    One phase-vocoder pass (librosa) to length ``stretch * 2**(semitones/12)``, then a resample
    (soxr through librosa) by ``2**(-semitones/12)``: pitch moves, duration ends at ``stretch``.
    Done by hand rather than ``librosa.effects.pitch_shift`` + ``time_stretch`` because that
    pair runs the phase vocoder twice, smearing drum transients twice and costing double.
    An onset at ``t`` seconds moves to ``t * stretch``.
    """
    import librosa

    if stretch <= 0:
        raise ValueError(f"stretch must be positive, got {stretch}")
    ratio = 2.0 ** (semitones / 12.0)
    y = np.asarray(wave, dtype=np.float32)
    if abs(stretch * ratio - 1.0) > 1e-6:
        y = librosa.effects.time_stretch(y, rate=1.0 / (stretch * ratio))
    if abs(ratio - 1.0) > 1e-6:
        y = librosa.resample(y, orig_sr=sample_rate * ratio, target_sr=sample_rate, res_type="soxr_hq")
    peak = float(np.abs(y).max()) if y.size else 0.0
    if peak > 1.0:  # the vocoder can overshoot; keep the level range of the original
        y = y / peak
    return y.astype(np.float32)


def _mask_spec(cfg: Mapping | None) -> tuple[int, int, int] | None:
    if not cfg:
        return None
    lo, hi, count = int(cfg.get("min_width", 0)), int(cfg["max_width"]), int(cfg.get("count", 1))
    if not 0 <= lo <= hi:
        raise ValueError(f"mask widths need 0 <= min_width <= max_width, got {lo}, {hi}")
    return (lo, hi, count) if count > 0 and hi > 0 else None


def _power(mel: torch.Tensor, log_eps: float) -> torch.Tensor:
    """The power of ``log(eps + power)`` features (>= 0)."""
    return (mel.exp() - log_eps).clamp_min(0)


def _scaled(mel: torch.Tensor, db: torch.Tensor, log_eps: float) -> torch.Tensor:
    """``mel``'s power scaled by ``db`` decibels (broadcast against ``mel``), back in
    ``log(eps + power)``: exact, unlike adding to the log (which would also scale ``eps``)."""
    return torch.log(_power(mel, log_eps) * (10.0 ** (db / 10.0)).to(mel) + log_eps)


def _filter_spec(cfg: Mapping | None) -> tuple[float, int, int, int] | None:
    if not cfg:
        return None
    gain_db, lo, hi = float(cfg["gain_db"]), int(cfg.get("min_bands", 1)), int(cfg["max_bands"])
    min_bandwidth = int(cfg.get("min_bandwidth", 6))  # filt_aug's min_bw
    if not (math.isfinite(gain_db) and gain_db >= 0):
        raise ValueError(f"filter_augment.gain_db must be a finite number >= 0, got {gain_db}")
    if not 1 <= lo <= hi:
        raise ValueError(f"filter_augment needs 1 <= min_bands <= max_bands, got {lo}, {hi}")
    if min_bandwidth < 0:
        raise ValueError(f"filter_augment.min_bandwidth must be >= 0, got {min_bandwidth}")
    return (gain_db, lo, hi, min_bandwidth) if gain_db > 0 else None


def _band_limit_spec(cfg: Mapping | None) -> tuple[float, float, float] | None:
    if not cfg:
        return None
    prob, lo, hi = float(cfg["prob"]), float(cfg["min_hz"]), float(cfg["max_hz"])
    if not 0 <= prob <= 1:
        raise ValueError(f"band_limit.prob must be in [0, 1], got {prob}")
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"band_limit needs 0 < min_hz <= max_hz, got {lo}, {hi}")
    return (prob, lo, hi) if prob > 0 else None


#: What is left above a band limit's cut-off, in dB of the power: a resampler's stop band
#: (soxr's is 100+ dB down), so those bins sit at the features' floor, log(eps).
BAND_LIMIT_STOP_DB = 100.0


class Augmentation:
    """Per-batch augmentation of training batches (see the module docstring).

    ``time_mask`` / ``freq_mask``: ``{min_width, max_width, count}`` in frames / mel bins
    (None disables); ``mixup_alpha``: 0 disables; ``gain_db``: uniform gain in
    ``[-gain_db, gain_db]`` dB per example; ``filter_augment``: ``{gain_db, min_bands,
    max_bands, min_bandwidth}``, an equaliser per example (see :meth:`filter`; None disables);
    ``band_limit``: ``{prob, min_hz, max_hz}``, that share of the examples band-limited at a
    cut-off log-uniform in ``[min_hz, max_hz]`` (see :meth:`band_limit`; None disables; needs the
    features' mel scale, :meth:`bind`, which the datamodule does);
    ``audio_variants``: pre-rendered pitch/stretch variants (read by the cache, not used here).

    Raises:
        ValueError: mask widths or filter bands out of order, a negative filter gain, or a band
            limit's share outside [0, 1] or its cut-offs out of order.
    """

    def __init__(self, time_mask: Mapping | None = None, freq_mask: Mapping | None = None, mixup_alpha: float = 0.0,
                 gain_db: float = 0.0, audio_variants: Mapping | None = None,
                 filter_augment: Mapping | None = None, band_limit: Mapping | None = None) -> None:
        self.time_mask = _mask_spec(time_mask)
        self.freq_mask = _mask_spec(freq_mask)
        self.mixup_alpha = float(mixup_alpha)
        self.gain_db = float(gain_db)
        self.filter_augment = _filter_spec(filter_augment)
        self.band_limit_spec = _band_limit_spec(band_limit)
        self._mel_fb: torch.Tensor | None = None  # (n_freqs, n_mels), from bind()
        self._bin_hz: torch.Tensor | None = None  # (n_freqs,)
        self.audio_variants = dict(audio_variants) if audio_variants else None

    @property
    def active(self) -> bool:
        return bool(self.time_mask or self.freq_mask or self.mixup_alpha > 0 or self.gain_db > 0 or self.filter_augment
                    or self.band_limit_spec)

    def __repr__(self) -> str:
        return (f"Augmentation(time_mask={self.time_mask}, freq_mask={self.freq_mask}, mixup_alpha={self.mixup_alpha}, "
                f"gain_db={self.gain_db}, filter_augment={self.filter_augment}, band_limit={self.band_limit_spec}, "
                f"audio_variants={self.audio_variants})")

    def bind(self, features) -> Augmentation:
        """Take the mel scale of ``features`` (a :class:`drumtx.features.LogMel`): the band limit
        needs each mel bin's frequencies. Returns ``self``."""
        fb = features.mel.mel_scale.fb.detach().to(torch.float64)  # (n_fft // 2 + 1, n_mels)
        self._mel_fb = fb
        self._bin_hz = torch.linspace(0.0, features.sample_rate / 2.0, fb.shape[0], dtype=torch.float64)
        return self

    def __call__(self, batch: dict, log_eps: float, retarget: Callable[[np.ndarray], dict] | None = None,
                 generator: torch.Generator | None = None) -> dict:
        """Augment a collated training batch in place and return it.

        ``retarget(roll (T, C) uint8) -> {name: (T,) int64}`` recomputes hierarchical targets
        after mixup (the datamodule passes the policy's :func:`hierarchical_targets`).
        """
        if self.gain_db > 0:
            batch["mel"] = self.gain(batch["mel"], log_eps, generator)
        if self.filter_augment:
            batch["mel"] = self.filter(batch["mel"], log_eps, generator)
        if self.band_limit_spec:
            batch["mel"] = self.band_limit(batch["mel"], log_eps, generator)
        if self.mixup_alpha > 0:
            if retarget is None:
                raise ValueError("mixup needs a retarget function for the hierarchical targets")
            batch = self.mixup(batch, log_eps, retarget, generator)
        if self.time_mask or self.freq_mask:
            batch["mel"] = self.mask(batch["mel"], generator)
        return batch

    def gain(self, mel: torch.Tensor, log_eps: float, generator=None) -> torch.Tensor:
        """Scale the power by a random gain: exact in ``log(eps + power)`` space."""
        db = (torch.rand(mel.shape[0], generator=generator) * 2 - 1) * self.gain_db
        return _scaled(mel, db.view(-1, *([1] * (mel.dim() - 1))), log_eps)

    def filter(self, mel: torch.Tensor, log_eps: float, generator=None) -> torch.Tensor:
        """A random equaliser per example: exact in ``log(eps + power)`` space, like :meth:`gain`.

        FilterAugment's linear type (Nam et al., ICASSP 2022; the authors' ``filt_aug``): ``n``
        bands (uniform in ``[min_bands, max_bands]``, both included) split the mel axis at
        whole bins, each band at least ``min_bandwidth`` bins wide (fewer where the axis is too
        short); the curve runs linearly in dB between ``n + 1`` points (bin 0, each split, the
        last bin), each point's gain uniform in ``[-gain_db, gain_db]``, and scales the power.
        Unlike ``filt_aug`` the bands are drawn per example, not once per batch. One kit's crash
        then sounds brighter or darker, its hi-hat thinner, on each draw; the labels do not
        change. On the cached log-mel, so no audio is needed: an audio-domain equaliser
        (audiomentations' SevenBandParametricEQ, pedalboard) would have to render every crop.

        Args:
            mel: ``(B, n_mels, T)`` log(eps + power) features.
            log_eps: the ``eps`` of those features.
        Returns:
            a new ``(B, n_mels, T)`` tensor; each example's bins scaled by its curve.
        """
        gain_db, lo, hi, min_bandwidth = self.filter_augment
        b, n_mels = mel.shape[0], mel.shape[1]
        bins = np.arange(n_mels, dtype=np.float64)
        curves = torch.empty(b, n_mels, dtype=torch.float64)
        for i in range(b):
            n = int(torch.randint(lo, hi + 1, (1,), generator=generator))
            width = min(min_bandwidth, (n_mels - 1) // n)
            # n - 1 splits in (0, n_mels - 1), each band >= width bins (filt_aug's draw)
            free = torch.randint(0, n_mels - 1 - n * width + 1, (n - 1,), generator=generator)
            inner = torch.sort(free).values + torch.arange(1, n) * width
            points = np.concatenate([[0], inner.numpy(), [n_mels - 1]]).astype(np.float64)
            gains = ((torch.rand(n + 1, generator=generator, dtype=torch.float64) * 2 - 1) * gain_db).numpy()
            curves[i] = torch.from_numpy(np.interp(bins, points, gains))
        return _scaled(mel, curves.unsqueeze(-1), log_eps)

    def band_limit(self, mel: torch.Tensor, log_eps: float, generator=None) -> torch.Tensor:
        """A random band limit per example: nothing above a cut-off, as in audio sampled at twice it.

        A file sampled at 8, 11.025, 16 or 22.05 kHz holds nothing above 4, 5.5, 8 or ~10 kHz, and
        the packaged model, trained on full-band audio only, lost half its hi-hats at 16 kHz and
        every drum at 11.025 kHz (``experiments/band_limit``). A share ``prob`` of the examples
        gets a cut-off ``f`` log-uniform in ``[min_hz, max_hz]``; each mel bin keeps the share of
        its filter's weight below ``f`` (exact for a spectrum flat across the bin), the rest at
        :data:`BAND_LIMIT_STOP_DB` down, in ``log(eps + power)`` space like :meth:`gain`. On the
        cached log-mel, like :meth:`filter`: a low-pass of the audio would have to render every crop.

        Args:
            mel: ``(B, n_mels, T)`` log(eps + power) features of the bound mel scale.
            log_eps: the ``eps`` of those features.
        Returns:
            a new ``(B, n_mels, T)`` tensor.
        Raises:
            ValueError: the augmentation was not bound to the features (:meth:`bind`), or ``mel``
                has another number of bins than they do.
        """
        prob, lo, hi = self.band_limit_spec
        if self._mel_fb is None:
            raise ValueError("band_limit needs the features' mel scale: Augmentation.bind(features) first")
        if mel.shape[1] != self._mel_fb.shape[1]:
            raise ValueError(f"band_limit is bound to {self._mel_fb.shape[1]} mel bins, the batch has {mel.shape[1]}")
        b = mel.shape[0]
        chosen = torch.rand(b, generator=generator, dtype=torch.float64) < prob
        cutoff = lo * (hi / lo) ** torch.rand(b, generator=generator, dtype=torch.float64)
        below = (self._bin_hz[None, :] < cutoff[:, None]).to(torch.float64)  # (B, n_freqs)
        share = (below @ self._mel_fb) / self._mel_fb.sum(0).clamp_min(1e-12)  # (B, n_mels)
        db = 10.0 * torch.log10(share.clamp_min(10.0 ** (-BAND_LIMIT_STOP_DB / 10.0)))
        db[~chosen] = 0.0
        return _scaled(mel, db.unsqueeze(-1), log_eps)

    def mixup(self, batch: dict, log_eps: float, retarget, generator=None) -> dict:
        """Mix each example with a random partner; the labels become the union of both."""
        mel = batch["mel"]
        b = mel.shape[0]
        if b < 2:
            return batch
        # A random cycle through the batch: every example gets a partner other than itself.
        order = torch.randperm(b, generator=generator)
        perm = torch.empty_like(order)
        perm[order] = order.roll(-1)
        lam = _beta_from_uniform(torch.rand(b, generator=generator), self.mixup_alpha)
        lam = lam.to(mel.dtype).view(-1, 1, 1)
        power = _power(mel, log_eps)
        batch["mel"] = torch.log(lam * power + (1 - lam) * power[perm] + log_eps)
        batch["roll"] = torch.maximum(batch["roll"], batch["roll"][perm])
        batch["velocity"] = torch.maximum(batch["velocity"], batch["velocity"][perm])
        batch["mask"] = batch["mask"] | batch["mask"][perm]
        union = batch["roll"].numpy().astype(np.uint8)
        new = [retarget(union[i]) for i in range(b)]
        batch["targets"] = {name: torch.from_numpy(np.stack([n[name] for n in new])) for name in batch["targets"]}
        return batch

    def mask(self, mel: torch.Tensor, generator=None) -> torch.Tensor:
        """SpecAugment masks filled with each example's mean.

        Hand-written instead of ``torchaudio.transforms.TimeMasking``: that draws widths in
        ``[0, max]``, while the design asks for ``[min_width, max_width]`` (5-10).
        """
        mel = mel.clone()
        b, n_mels, t = mel.shape
        fill = mel.mean(dim=(1, 2))
        for axis, spec, size in ((2, self.time_mask, t), (1, self.freq_mask, n_mels)):
            if not spec:
                continue
            lo, hi, count = spec
            for i in range(b):
                for _ in range(count):
                    width = min(int(torch.randint(lo, hi + 1, (1,), generator=generator)), size)
                    start = int(torch.randint(0, size - width + 1, (1,), generator=generator))
                    if axis == 2:
                        mel[i, :, start:start + width] = fill[i]
                    else:
                        mel[i, start:start + width, :] = fill[i]
        return mel


def _beta_from_uniform(u: torch.Tensor, alpha: float) -> torch.Tensor:
    """Beta(alpha, alpha) samples from uniforms via the inverse CDF (scipy's betaincinv).

    Inverse CDF rather than ``torch.distributions.Beta`` so that the draw follows the
    DataLoader worker's seeded torch RNG (Beta.sample takes no generator).
    """
    from scipy.special import betaincinv

    return torch.from_numpy(betaincinv(alpha, alpha, u.double().numpy())).float()

