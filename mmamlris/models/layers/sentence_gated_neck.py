# Copyright (c) mmamlris contributors. All rights reserved.
"""CRIS / DETRIS neck: three levels, each gated by the sentence, merged with coordinates."""
from collections import OrderedDict
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ['SentenceGatedNeck', 'conv_bn_relu', 'corner_coords']


def conv_bn_relu(cin: int, cout: int, kernel: int = 1, stride: int = 1, padding: int = 0,
                 transposed: bool = False) -> nn.Sequential:
    """Conv (no bias) + BatchNorm + ReLU, as CRIS's ``conv_layer`` / ``deconv_layer``."""
    conv = (nn.ConvTranspose2d if transposed else nn.Conv2d)(cin, cout, kernel, stride, padding,
                                                             bias=False)
    return nn.Sequential(OrderedDict(conv=conv, bn=nn.BatchNorm2d(cout), relu=nn.ReLU(True)))


def corner_coords(x: Tensor) -> Tensor:
    """``[B, 2, H, W]`` x then y from -1 to 1 *at the border pixels* (``linspace``, as CRIS),
    in ``x``'s dtype and device."""
    batch, _, height, width = x.shape
    ys = torch.linspace(-1, 1, height, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1, 1, width, device=x.device, dtype=x.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack([grid_x, grid_y])[None].expand(batch, -1, -1, -1)


class SentenceGatedNeck(nn.Module):
    """Three visual levels projected to one width, each multiplied by its attention to the
    sentence, concatenated, merged (1x1), then refined with coordinates (residual).

    .. code:: text

        s = text_proj(sentence)                                   # [B, C]
        for level i: v_i = proj_i(level_i)                        # conv-BN-ReLU, [B, C, H, W]
                     g_i = v_i * MHA_i(q=v_i, k=v=s)              # per position (1 key)
        f = aggr(cat(g_1, g_2, g_3));  out = coord_conv(f) + f

    ``strides`` as CRIS: a ViT's levels share one size, so DETRIS uses ``(1, 1, 1)`` (the
    last projection is then a 1x1 transposed convolution, kept for its weights).

    Args:
        in_channels (Sequence[int]): Widths of the three levels.
        channels (int): Common width ``C`` (DETRIS: 512).
        text_channels (int): Sentence width (DETRIS: 512).
        num_heads (int): Heads of the three attentions. Defaults to 8.
        strides (Sequence[int]): Down / down / up-sampling factor of each level.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int,
                 text_channels: int,
                 num_heads: int = 8,
                 strides: Sequence[int] = (1, 1, 1)) -> None:
        super().__init__()
        first, second, third = in_channels
        self.level_proj = nn.ModuleList([
            conv_bn_relu(first, channels, strides[0], strides[0]),
            conv_bn_relu(second, channels, strides[1], strides[1]),
            conv_bn_relu(third, channels, strides[2], strides[2], transposed=True),
        ])
        self.text_proj = nn.Linear(text_channels, channels)
        self.gates = nn.ModuleList([nn.MultiheadAttention(channels, num_heads) for _ in range(3)])
        self.aggr = conv_bn_relu(3 * channels, channels)
        self.coord_conv = nn.Sequential(conv_bn_relu(channels + 2, channels, 3, 1, 1),
                                        conv_bn_relu(channels, channels, 3, 1, 1))

    def forward(self, levels: Tuple[Tensor, Tensor, Tensor], sentence: Tensor) -> Tensor:
        """Args: levels three ``[B, C_i, H_i, W_i]``; sentence ``[B, C_t]``.
        Returns ``[B, C, H, W]``."""
        text = self.text_proj(sentence)[None]  # [1, B, C]: one key per sample
        gated = []
        for level, proj, gate in zip(levels, self.level_proj, self.gates):
            v = proj(level)
            batch, channels, height, width = v.shape
            seq = v.flatten(2).permute(2, 0, 1)  # [HW, B, C]
            seq = seq * gate(seq, text, text, need_weights=False)[0]
            gated.append(seq.permute(1, 2, 0).reshape(batch, channels, height, width))
        merged = self.aggr(torch.cat(gated, dim=1))
        return self.coord_conv(torch.cat([merged, corner_coords(merged)], dim=1)) + merged
