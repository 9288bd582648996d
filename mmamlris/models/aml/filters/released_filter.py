# Copyright (c) mmamlris contributors. All rights reserved.
"""The block mask of the released AMLRIS code, vectorised (for comparison and reproduction).

The released code draws ``n = max(1, floor(rho * K))`` of the ``K`` weak (block, pixel-offset)
pairs of each image and, through an indexing slip, masks block ``min(pixel_offset, N - 1)``
(raster order, ``N`` blocks per image) as well as the pair's own block; ``docs/en/aml.md``
explains why this hides about half of the image even when only a few cells are weak. This
file reproduces that behaviour without the released code's per-sample Python loop.

Generalisations of the released code, which asserts square images with ``H % 32 == 0``: any
``H x W`` and any block size; partial last blocks are padded with pixels that are never weak,
and offsets are counted inside the full ``bh x bw`` block (row-major, ``py * bw + px``).
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmamlris.registry import MODELS
from ..block_ops import pool_blocks, rank_per_row
from .base_filter import BaseBlockFilter, BlockSelection

__all__ = ['ReleasedBlockFilter', 'official_block_mask']


def official_block_mask(score_map: Tensor,
                        image_size: Tuple[int, int],
                        block_size: Tuple[int, int],
                        tau: float,
                        rho: float = 0.25,
                        keys: Optional[Tensor] = None,
                        valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Blocks masked by the released code, for a batch of relevance maps.

    Args:
        score_map (Tensor): Relevance ``[B, 1, h, w]`` (float32).
        image_size (tuple[int, int]): ``(H, W)`` of the image batch.
        block_size (tuple[int, int]): ``(bh, bw)``, the official patch size (32, 32).
        tau (float): Weak threshold (official: 0.4).
        rho (float): Fraction of the weak pairs drawn (official ``// 4``: 0.25).
        keys (Tensor, optional): ``[B, N * bh * bw]`` random keys, one per (block, offset)
            pair in ``block * bh * bw + offset`` order; the ``n`` weak pairs with the smallest
            keys are drawn. ``None`` draws ``torch.rand`` keys on the score map's device. Given
            keys make the choice reproducible (tests compare against a literal replica).
        valid (Tensor, optional): ``[B, 1, H, W]`` bool, the real image's pixels; padding
            pixels are never weak (the released code never sees padding).

    Returns:
        tuple[Tensor, Tensor]: The masked blocks ``[B, Gh, Gw]`` bool, with
        ``Gh = ceil(H / bh)``, ``Gw = ceil(W / bw)``, and the weak pixels ``[B, 1, H, W]`` bool.
    """
    height, width = image_size
    bh, bw = block_size
    batch = score_map.shape[0]
    gh, gw = math.ceil(height / bh), math.ceil(width / bw)
    num_blocks, num_offsets = gh * gw, bh * bw

    relevance = F.interpolate(score_map, size=(height, width), mode='bilinear',
                              align_corners=False)
    weak_pixels = relevance < tau  # [B, 1, H, W]
    if valid is not None:
        weak_pixels &= valid
    # Patchify: pad the partial last blocks with never-weak pixels, then [B, N, bh * bw].
    padded = F.pad(weak_pixels[:, 0], (0, gw * bw - width, 0, gh * bh - height), value=False)
    pairs = padded.view(batch, gh, bh, gw, bw).permute(0, 1, 3, 2, 4).reshape(
        batch, num_blocks * num_offsets)

    num_weak = pairs.sum(dim=1)  # K per image
    num_drawn = torch.where(num_weak > 0,
                            (num_weak.double() * rho).floor().long().clamp(min=1),
                            torch.zeros_like(num_weak))
    if keys is None:
        keys = torch.rand(pairs.shape, device=pairs.device)
    elif keys.shape != pairs.shape:
        raise ValueError(f'official_block_mask: keys must have shape {tuple(pairs.shape)} '
                         f'(batch, blocks * bh * bw), got {tuple(keys.shape)}.')
    keys = keys.float().masked_fill(~pairs, float('inf'))
    drawn = pairs & (rank_per_row(keys) < num_drawn[:, None])
    drawn = drawn.view(batch, num_blocks, num_offsets)

    # Column 0 of the (block, offset) pairs: the block that holds the drawn pixel.
    own_blocks = drawn.any(dim=2)  # [B, N]
    # Column 1, also used as a block id after clamping to N - 1: the indexing slip.
    drawn_offsets = drawn.any(dim=1).float()  # [B, bh * bw]
    slip_target = torch.arange(num_offsets, device=pairs.device).clamp(max=num_blocks - 1)
    slip_blocks = torch.zeros(batch, num_blocks, device=pairs.device).index_add_(
        1, slip_target, drawn_offsets) > 0
    blocks = (own_blocks | slip_blocks).view(batch, gh, gw)
    return blocks, weak_pixels


@MODELS.register_module()
class ReleasedBlockFilter(BaseBlockFilter):
    """The masking of the released AMLRIS code, indexing slip included.

    Bilinear upsampling of the scores to the image size (``align_corners=False``), weak
    pixels ``< tau``, ``max(1, floor(rho * K))`` of the ``K`` weak (block, pixel-offset) pairs
    drawn at random (``K // 4`` for ``rho = 0.25``), and every drawn pair masks its own block
    **and** block ``min(offset, N - 1)``: see :func:`official_block_mask`. Pair it with
    :class:`ReleasedRelevanceScorer`.

    Args:
        tau (float): Weak threshold (released code: 0.4). Defaults to 0.4.
        rho (float): Fraction of the weak pairs drawn (released ``// 4``: 0.25).
        block_size (int | tuple[int, int]): The released patch size (32). Defaults to 32.
        init_cfg (dict, optional): Unused (no parameters).
    """

    def __init__(self,
                 tau: float = 0.4,
                 rho: float = 0.25,
                 block_size: Union[int, Sequence[int]] = 32,
                 init_cfg=None) -> None:
        super().__init__(block_size, init_cfg=init_cfg)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f'ReleasedBlockFilter: rho must be in [0, 1], got {rho!r}.')
        if not math.isfinite(tau):
            raise ValueError(f'ReleasedBlockFilter: tau must be finite, got {tau!r}.')
        self.tau = float(tau)
        self.rho = float(rho)

    def extra_repr(self) -> str:
        return f'tau={self.tau}, rho={self.rho}, block_size={self.block_size}'

    def forward(self, score_map: Tensor, image_size: Tuple[int, int],
                valid: Optional[Tensor] = None) -> BlockSelection:
        """The released code's choice; weak blocks are those holding a weak pixel (padding
        pixels are never weak; the indexing slip may still hit a padding block)."""
        masked, weak_mask = official_block_mask(score_map, image_size, self.block_size,
                                                self.tau, self.rho, valid=valid)
        weak_blocks = pool_blocks(weak_mask[:, 0].float(), self.block_size, 'max') > 0
        return BlockSelection(masked, weak_blocks, weak_mask)
