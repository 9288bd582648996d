# Copyright (c) mmamlris contributors. All rights reserved.
"""The alignment-aware masking of the released AMLRIS code, vectorised (for comparison only).

The released code (pipashu1/AMLRIS ``model/models_aug/amlris.py``, described in
``RIS_REFERENCE.md`` §1.4-1.5; no line of it is copied here) differs from the paper in ways that
change what is masked. :class:`AlignmentAwareMasking` with ``compat_official=True`` uses the two
functions of this file, which reproduce that behaviour without the per-sample Python loop:

1. :func:`official_relevance`: relevance ``A = softmax_tokens(V . (W t + b))`` with the visual
   features ``V`` [B, hw, C_v] used as they are (no l2 norm, no projection), an untrained
   ``Linear(C_t -> C_v)`` on the tokens, no temperature and **no padding mask** (every token
   slot, [PAD] included, takes part in the softmax), then PatchMax over the tokens.
2. :func:`official_block_mask`: bilinear upsampling of the relevance to the image size
   (``align_corners=False``), weak pixels ``< tau``, ``n = max(1, floor(rho * K))`` of the ``K``
   weak (block, pixel-offset) pairs of each image drawn at random without replacement
   (``K // 4`` for ``rho = 0.25``), and the indexing slip: every drawn pair masks its own block
   **and** block ``min(pixel_offset, N - 1)`` (raster order, ``N`` blocks per image).

Generalisations of the released code, which asserts square images with ``H % 32 == 0``: any
``H x W`` and any block size; partial last blocks are padded with pixels that are never weak,
and offsets are counted inside the full ``bh x bw`` block (row-major, ``py * bw + px``).
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['official_relevance', 'official_block_mask']


def official_relevance(vis_feat: Tensor, text_feat: Tensor, weight: Tensor,
                       bias: Tensor) -> Tensor:
    """PatchMax relevance of the released code (padding tokens included: the official bug).

    Args:
        vis_feat (Tensor): Visual features ``[B, C_v, h, w]`` (float32).
        text_feat (Tensor): Token features ``[B, N, C_t]`` of **all** token slots (float32).
        weight (Tensor): ``[C_v, C_t]`` weight of the never-trained ``Linear(C_t -> C_v)``.
        bias (Tensor): ``[C_v]`` bias of that layer.

    Returns:
        Tensor: Relevance ``[B, 1, h, w]`` in ``[1/N, 1]``: for every cell, the largest
        softmax-over-tokens probability of ``V . (W t + b)``.
    """
    batch, _, h, w = vis_feat.shape
    vis = vis_feat.flatten(2).transpose(1, 2)  # [B, hw, C_v]
    text = F.linear(text_feat, weight, bias)  # [B, N, C_v]
    sim = torch.bmm(vis, text.transpose(1, 2))  # [B, hw, N]
    return sim.softmax(dim=-1).amax(dim=-1).view(batch, 1, h, w)


def _rank_of_keys(keys: Tensor) -> Tensor:
    """Rank (0 = smallest) of every key of each row; ties broken by position, so exact."""
    order = keys.argsort(dim=1, stable=True)
    positions = torch.arange(keys.shape[1], device=keys.device).expand_as(order)
    return torch.empty_like(order).scatter_(1, order, positions)


def official_block_mask(score_map: Tensor,
                        image_size: Tuple[int, int],
                        block_size: Tuple[int, int],
                        tau: float,
                        rho: float = 0.25,
                        keys: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
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
    drawn = pairs & (_rank_of_keys(keys) < num_drawn[:, None])
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
