"""The shared encoder: a CNN over the log-mel image, then a bidirectional LSTM over time.

One class serves every size (``conf/encoder/crnn.yaml`` is the design's, ``crnn_small.yaml``
the CPU-sized one), so the two differ only in numbers and the speed/accuracy trade-off
can be measured like for like.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class ConvBlock(nn.Sequential):
    """3x3 conv, batch norm, ReLU, then max-pool over frequency only (time resolution is kept)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, pool: tuple[int, int] = (2, 1)):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(pool),
        )


class CRNNEncoder(nn.Module):
    """``(B, n_mels, T)`` log-mel -> ``(B, T, 2 * rnn_hidden)`` frame embeddings.

    Every conv block halves the frequency axis, so after four blocks 128 mel bins become 8
    and the LSTM reads ``channels[-1] * 8`` features per frame (256 x 8 = 2048 in the design).
    """

    def __init__(
        self,
        n_mels: int = 128,
        channels: list[int] | tuple[int, ...] = (32, 64, 128, 256),
        rnn_hidden: int = 256,
        rnn_layers: int = 2,
        rnn_dropout: float = 0.3,
        kernel_size: int = 3,
        input_norm: bool = True,
    ):
        super().__init__()
        # Per-mel-bin batch norm of the raw log-mel (values around -11..5): the conv stack
        # then sees zero-mean, unit-scale inputs whatever the log floor or the mix level.
        self.input_norm = nn.BatchNorm1d(n_mels) if input_norm else nn.Identity()
        channels = list(channels)
        if not channels:
            raise ValueError("encoder.channels must list at least one conv block")
        freq = n_mels // 2 ** len(channels)
        if freq < 1:
            raise ValueError(f"{len(channels)} frequency poolings leave nothing of n_mels={n_mels}")
        blocks, c_in = [], 1
        for c in channels:
            blocks.append(ConvBlock(c_in, c, kernel_size))
            c_in = c
        self.cnn = nn.Sequential(*blocks)
        self.n_mels = n_mels
        self.rnn_input = channels[-1] * freq
        self.rnn = nn.LSTM(
            self.rnn_input,
            rnn_hidden,
            num_layers=rnn_layers,
            batch_first=True,
            bidirectional=True,
            dropout=rnn_dropout if rnn_layers > 1 else 0.0,
        )
        self.out_dim = 2 * rnn_hidden

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask`` (B, T) bool marks real frames (a prefix of each row: padding sits at the end).

        With a mask, real frames see exactly what they would see without the padding: padded
        frames are zeroed before every convolution (what the convolution's own zero padding
        does past the end of an unpadded input), and the LSTM runs on packed sequences, so its
        backward direction starts at each row's last real frame, not in the padding.
        """
        if mel.dim() != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"encoder expects mel (batch, {self.n_mels}, time), got {tuple(mel.shape)}")
        padded = mask is not None and not bool(mask.all())
        x = self.input_norm(mel).unsqueeze(1)  # (B, 1, F, T)
        m = mask[:, None, None, :].to(x.dtype) if padded else None
        for block in self.cnn:
            x = block(x * m if padded else x)
        b, c, f, t = x.shape
        x = x.permute(0, 3, 1, 2).reshape(b, t, c * f)
        if padded:
            lengths = mask.sum(dim=1).clamp_min(1).cpu()
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=t)
            return out
        out, _ = self.rnn(x)
        return out
