# Copyright (c) mmamlris contributors. All rights reserved.
"""CRIS / DETRIS vision-language decoder: pixels attend to themselves, then to the words."""
import math
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ['VLTransformerDecoder', 'sine_pos_1d', 'sine_pos_2d']


def sine_pos_1d(channels: int, length: int) -> Tensor:
    """``[length, 1, C]``: sin on even, cos on odd channels, wavelengths up to 10000."""
    if channels % 2:
        raise ValueError(f'sine_pos_1d needs an even width, got {channels}.')
    pos = torch.arange(length, dtype=torch.float)[:, None]
    freq = torch.exp(torch.arange(0, channels, 2, dtype=torch.float) *
                     (-math.log(10000.0) / channels))
    out = torch.zeros(length, channels)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)
    return out[:, None]


def sine_pos_2d(channels: int, height: int, width: int) -> Tensor:
    """``[H*W, 1, C]``: the first half of the channels encodes x, the second y (sin / cos
    interleaved in each half), as CRIS."""
    if channels % 4:
        raise ValueError(f'sine_pos_2d needs a width divisible by 4, got {channels}.')
    half = channels // 2
    freq = torch.exp(torch.arange(0., half, 2) * (-math.log(10000.0) / half))
    out = torch.zeros(channels, height, width)
    x = torch.arange(0., width)[:, None] * freq  # [W, half/2]
    y = torch.arange(0., height)[:, None] * freq
    out[0:half:2] = torch.sin(x).t()[:, None, :].expand(-1, height, -1)
    out[1:half:2] = torch.cos(x).t()[:, None, :].expand(-1, height, -1)
    out[half::2] = torch.sin(y).t()[:, :, None].expand(-1, -1, width)
    out[half + 1::2] = torch.cos(y).t()[:, :, None].expand(-1, -1, width)
    return out.reshape(channels, 1, height * width).permute(2, 1, 0)


class _DecoderLayer(nn.Module):
    """Pre-norm self-attention, cross-attention to the words and FFN, each output normed
    again before its residual (CRIS's layer)."""

    def __init__(self, channels: int, num_heads: int, ffn_channels: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.norm2 = nn.LayerNorm(channels)
        self.norm3 = nn.LayerNorm(channels)
        self.self_attn = nn.MultiheadAttention(channels, num_heads, dropout=dropout)
        self.self_attn_norm = nn.LayerNorm(channels)
        self.cross_attn = nn.MultiheadAttention(channels, num_heads, dropout=dropout)
        self.cross_attn_norm = nn.LayerNorm(channels)
        self.ffn = nn.Sequential(nn.Linear(channels, ffn_channels), nn.ReLU(True),
                                 nn.Dropout(dropout), nn.LayerNorm(ffn_channels),
                                 nn.Linear(ffn_channels, channels))
        self.drop = nn.ModuleList([nn.Dropout(dropout) for _ in range(3)])

    def forward(self, vis: Tensor, words: Tensor, vis_pos: Tensor, word_pos: Tensor,
                pad_mask: Optional[Tensor]) -> Tensor:
        x = self.norm1(vis)
        q = x + vis_pos
        x = self.self_attn_norm(self.self_attn(q, q, x, need_weights=False)[0])
        vis = vis + self.drop[0](x)
        x = self.norm2(vis)
        x = self.cross_attn(x + vis_pos, words + word_pos, words, key_padding_mask=pad_mask,
                            need_weights=False)[0]
        vis = vis + self.drop[1](self.cross_attn_norm(x))
        return vis + self.drop[2](self.ffn(self.norm3(vis)))


class VLTransformerDecoder(nn.Module):
    """Layers of :class:`_DecoderLayer` over the pixels of one map, then a LayerNorm.

    Args:
        num_layers (int): DETRIS: 3.
        channels (int): Width of the map and of the words (DETRIS: 512).
        num_heads (int): DETRIS: 8.
        ffn_channels (int): DETRIS: 512.
        dropout (float): DETRIS: 0.1.
    """

    def __init__(self, num_layers: int, channels: int, num_heads: int, ffn_channels: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.layers = nn.ModuleList([
            _DecoderLayer(channels, num_heads, ffn_channels, dropout) for _ in range(num_layers)
        ])
        self.norm = nn.LayerNorm(channels)

    def forward(self, vis: Tensor, words: Tensor, text_mask: Tensor) -> Tensor:
        """Args: vis ``[B, C, H, W]``; words ``[B, L, C]``; text_mask ``[B, L]`` True for
        real tokens (padding is masked out of the cross-attention). Returns ``[B, C, H, W]``."""
        batch, channels, height, width = vis.shape
        vis_pos = sine_pos_2d(channels, height, width).to(vis)
        word_pos = sine_pos_1d(words.shape[-1], words.shape[1]).to(words)
        x = vis.flatten(2).permute(2, 0, 1)
        seq = words.transpose(0, 1)
        pad = ~text_mask.bool()
        for layer in self.layers:
            x = layer(x, seq, vis_pos, word_pos, pad)
        return self.norm(x).permute(1, 2, 0).reshape(batch, channels, height, width)
