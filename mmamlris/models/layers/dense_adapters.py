# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRIS's dense adapters: multi-scale convolutions on a bottleneck of a frozen transformer.

``DenseAligner`` sits in the visual (DINOv2) blocks and also attends to the text;
``DenseTextAdapter`` sits in the text (CLIP) blocks. Both project the tokens down
(``down``), run three densely connected convolution branches on them (1x1; 1x1 then 3x3;
1x1 then 5x5; each branch sees the input and the earlier branches' outputs; conv + BN with
eps 1e-3 + ReLU), add the branches' concatenation to their input, and project back up
(``up``). The leading tokens (class / register / start-of-text) bypass the convolutions. The
host block adds ``0.2 *`` the adapter's output to its MLP output (the host decides where).
"""
from collections import OrderedDict
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ['DenseAligner', 'DenseTextAdapter']


def _conv_bn_relu(dims: int, cin: int, cout: int, kernel: int) -> nn.Sequential:
    """Conv (with bias, as DETRIS: it matters once BN uses running statistics) + BN (eps
    1e-3) + ReLU, in 1-D or 2-D."""
    conv = (nn.Conv1d if dims == 1 else nn.Conv2d)(cin, cout, kernel, padding=kernel // 2)
    norm = (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(cout, eps=1e-3)
    return nn.Sequential(OrderedDict(conv=conv, bn=norm, relu=nn.ReLU(inplace=True)))


def _dense_branches(channels: int, dims: int) -> nn.ModuleList:
    """Three branches whose outputs (channels/2, /4, /4) concatenate back to ``channels``."""
    c1, c_red, c3 = channels // 2, channels // 16, channels // 4
    return nn.ModuleList([
        _conv_bn_relu(dims, channels, c1, 1),
        nn.Sequential(_conv_bn_relu(dims, channels + c1, c_red, 1),
                      _conv_bn_relu(dims, c_red, c3, 3)),
        nn.Sequential(_conv_bn_relu(dims, channels + c1 + c3, c_red, 1),
                      _conv_bn_relu(dims, c_red, c3, 5)),
    ])


def _run_dense(branches: nn.ModuleList, x: Tensor) -> Tensor:
    """Concatenation of the three branches, each fed the input and the earlier outputs."""
    outs = []
    for branch in branches:
        outs.append(branch(torch.cat([x, *outs], dim=1)))
    return torch.cat(outs, dim=1)


class DenseAligner(nn.Module):
    """DETRIS's visual adapter: dense convolutions on the patch grid, then cross-attention
    from the patches to the words.

    .. code:: text

        h = relu(down(x))                                   # [B, P, C_h]
        grid = h[:, n:] as [B, C_h, H, W]                   # the patch tokens
        g = dense(grid) + grid -> [B, H*W, C_h]
        g = out_proj(MHA(q=img_proj(g), k=v=text_proj(text)))   # no key padding mask
        y = up(cat(h[:, :n], g) + h)                        # [B, P, C]

    Args:
        embed_dims (int): Token width of the host (DINOv2) block.
        channels (int): Bottleneck width ``C_h`` (DETRIS: 128).
        text_channels (int): Word feature width (CLIP ViT-B/16 text: 512).
        attn_dims (int): Width of the cross-attention. Defaults to 128.
        num_heads (int): Defaults to 8.
        attn_drop (float): Dropout of the attention weights. Defaults to 0.1 (DETRIS's,
            active in training).
        num_prefix_tokens (int): Leading tokens that skip the convolutions and the
            attention (class + 4 registers). Defaults to 5.
    """

    def __init__(self,
                 embed_dims: int,
                 channels: int,
                 text_channels: int,
                 attn_dims: int = 128,
                 num_heads: int = 8,
                 attn_drop: float = 0.1,
                 num_prefix_tokens: int = 5) -> None:
        super().__init__()
        self.num_prefix_tokens = num_prefix_tokens
        self.down = nn.Linear(embed_dims, channels)
        self.up = nn.Linear(channels, embed_dims)
        self.branches = _dense_branches(channels, dims=2)
        self.img_proj = nn.Linear(channels, attn_dims)
        self.text_proj = nn.Linear(text_channels, attn_dims)
        self.attn = nn.MultiheadAttention(attn_dims, num_heads, dropout=attn_drop,
                                          batch_first=True)
        self.out_proj = nn.Linear(attn_dims, channels)

    def forward(self, x: Tensor, text: Tensor, hw: Tuple[int, int]) -> Tensor:
        """Args: x ``[B, P, C]`` tokens (``n`` prefix + ``H*W`` patches, row-major),
        text ``[B, L, C_t]`` word features, hw ``(H, W)``. Returns ``[B, P, C]``."""
        height, width = hw
        h = F.relu(self.down(x))
        n = self.num_prefix_tokens
        batch, _, channels = h.shape
        grid = h[:, n:].transpose(1, 2).reshape(batch, channels, height, width)
        grid = _run_dense(self.branches, grid) + grid
        patches = grid.flatten(2).transpose(1, 2)
        words = self.text_proj(text)
        attended, _ = self.attn(self.img_proj(patches), words, words, need_weights=False)
        out = torch.cat([h[:, :n], self.out_proj(attended)], dim=1) + h
        return self.up(out)


class DenseTextAdapter(nn.Module):
    """DETRIS's text adapter: the same dense branches as 1-D convolutions over the words.

    .. code:: text

        h = relu(down(x))                                   # [B, L, C_h]
        y = up(cat(h[:, :1], dense(h[:, 1:])) + h)           # the first token skips them

    Args:
        embed_dims (int): Token width of the host (CLIP text) block.
        channels (int): Bottleneck width (DETRIS: 64).
    """

    def __init__(self, embed_dims: int, channels: int) -> None:
        super().__init__()
        self.down = nn.Linear(embed_dims, channels)
        self.up = nn.Linear(channels, embed_dims)
        self.branches = _dense_branches(channels, dims=1)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``[B, L, C]``. Returns ``[B, L, C]``."""
        h = F.relu(self.down(x))
        words = h[:, 1:].transpose(1, 2)
        dense = _run_dense(self.branches, words).transpose(1, 2)
        return self.up(torch.cat([h[:, :1], dense], dim=1) + h)
