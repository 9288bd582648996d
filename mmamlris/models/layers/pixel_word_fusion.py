# Copyright (c) mmamlris contributors. All rights reserved.
"""LAVT's fusion of the expression into a visual stage: pixel-word attention and a gate."""
from typing import Optional, Tuple

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['PixelWordAttention', 'PixelWordFusion']


def _instance_norm_over_pixels(x: Tensor) -> Tensor:
    """Normalise each channel of ``[B, L, C]`` over its ``L`` pixels (no affine, eps 1e-5)."""
    return F.instance_norm(x.transpose(1, 2), eps=1e-5).transpose(1, 2)


class PixelWordAttention(nn.Module):
    """Every pixel attends to the words of its expression (LAVT's spatial image-language
    attention).

    .. code:: text

        q = inorm(W_q x)            [B, L, C_k]   (inorm: per channel over the L pixels)
        k = W_k t * m, v = W_v t * m [B, N, C_k], [B, N, C_v]   (padding words zeroed)
        a = softmax(q k^T / sqrt(C_k) - 1e4 (1 - m)) per head   [B, heads, L, N]
        out = inorm(W_o (a v))       [B, L, C_o]

    The scale is ``1 / sqrt(key_channels)`` whatever the number of heads, and padding words
    get ``-1e4`` before the softmax, as in the official code.

    Args:
        vis_channels (int): ``C`` of the pixels.
        text_channels (int): ``C_t`` of the words.
        key_channels (int): ``C_k``.
        value_channels (int): ``C_v``.
        out_channels (int, optional): ``C_o``; defaults to ``value_channels``.
        num_heads (int): Heads; ``key_channels`` and ``value_channels`` must divide by it.
    """

    def __init__(self, vis_channels: int, text_channels: int, key_channels: int,
                 value_channels: int, out_channels: Optional[int] = None,
                 num_heads: int = 1) -> None:
        super().__init__()
        if key_channels % num_heads or value_channels % num_heads:
            raise ValueError(f'PixelWordAttention: key_channels={key_channels} and '
                             f'value_channels={value_channels} must divide by '
                             f'num_heads={num_heads}.')
        self.num_heads = num_heads
        self.key_channels = key_channels
        self.query = nn.Linear(vis_channels, key_channels)
        self.key = nn.Linear(text_channels, key_channels)
        self.value = nn.Linear(text_channels, value_channels)
        self.out = nn.Linear(value_channels, out_channels or value_channels)

    def _heads(self, x: Tensor) -> Tensor:
        """``[B, S, C]`` -> ``[B, heads, S, C / heads]``."""
        batch, length, channels = x.shape
        return x.view(batch, length, self.num_heads, channels // self.num_heads).transpose(1, 2)

    def forward(self, x: Tensor, text_feats: Tensor, text_mask: Tensor) -> Tensor:
        """
        Args:
            x (Tensor): Pixels ``[B, L, C]``.
            text_feats (Tensor): Words ``[B, N, C_t]``.
            text_mask (Tensor): ``[B, N]``, True (or 1) for real words.

        Returns:
            Tensor: ``[B, L, C_o]``, the language each pixel gathers.
        """
        keep = text_mask.to(x.dtype)[:, :, None]  # [B, N, 1]
        query = self._heads(_instance_norm_over_pixels(self.query(x)))
        key = self._heads(self.key(text_feats) * keep)
        value = self._heads(self.value(text_feats) * keep)
        logits = query @ key.transpose(-1, -2) * self.key_channels**-0.5  # [B, h, L, N]
        logits = logits + (1e4 * keep[:, None, :, 0][:, :, None] - 1e4)
        out = logits.softmax(dim=-1) @ value  # [B, h, L, C_v / h]
        out = out.transpose(1, 2).flatten(2)  # [B, L, C_v]
        return _instance_norm_over_pixels(self.out(out))


class PixelWordFusion(nn.Module):
    """LAVT's fusion after a visual stage: PWAM, then a language gate on its residual.

    .. code:: text

        fused = GELU(W_p (GELU(W_v x) * PixelWordAttention(x, t, m)))   # PWAM   [B, L, C]
        x'    = x + tanh(W_2 relu(W_1 fused)) * fused                     # gate

    It returns both: ``x'`` continues through the backbone, while the official code hands
    ``fused`` (not ``x'``) to the decoder, after the stage's output norm. After the last
    stage nothing reads ``x'``: that fusion is built with ``with_gate=False`` and returns
    ``x`` unchanged (ReLA has no gate there; LAVT computes one whose output is never read).

    Args:
        channels (int): ``C`` of the stage.
        text_channels (int): ``C_t`` of the words (768 for BERT-base).
        num_heads (int): Heads of the pixel-word attention. Defaults to 1.
        dropout (float): Dropout after the two GELUs. Defaults to 0.
        with_gate (bool): Build the language gate. Defaults to True.
    """

    def __init__(self, channels: int, text_channels: int, num_heads: int = 1,
                 dropout: float = 0.0, with_gate: bool = True) -> None:
        super().__init__()
        self.vis_project = nn.Sequential(nn.Linear(channels, channels), nn.GELU(),
                                         nn.Dropout(dropout))
        self.attention = PixelWordAttention(channels, text_channels, channels, channels,
                                            num_heads=num_heads)
        self.project = nn.Sequential(nn.Linear(channels, channels), nn.GELU(),
                                     nn.Dropout(dropout))
        self.gate = nn.Sequential(
            nn.Linear(channels, channels, bias=False), nn.ReLU(),
            nn.Linear(channels, channels, bias=False), nn.Tanh()) if with_gate else None

    def forward(self, x: Tensor, text_feats: Tensor,
                text_mask: Tensor) -> Tuple[Tensor, Tensor]:
        """
        Args:
            x (Tensor): The stage's pixels ``[B, L, C]``.
            text_feats (Tensor): Words ``[B, N, C_t]``.
            text_mask (Tensor): ``[B, N]``, True for real words.

        Returns:
            tuple[Tensor, Tensor]: ``x'`` (gated sum, for the next stage; ``x`` itself without
            a gate) and ``fused`` (the PWAM output, for the decoder), both ``[B, L, C]``.
        """
        fused = self.vis_project(x) * self.attention(x, text_feats, text_mask)
        fused = self.project(fused)
        if self.gate is None:
            return x, fused
        return x + self.gate(fused) * fused, fused
