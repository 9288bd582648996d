# Copyright (c) mmamlris contributors. All rights reserved.
"""Alignment-aware Filtering Mask (AFM): the block mask of the AMLRIS paper."""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmamlris.registry import MODELS
from ..block_ops import draw_without_replacement, expand_blocks, pool_blocks
from .base_filter import BaseBlockFilter, BlockSelection

__all__ = ['AlignmentAwareFilter']


@MODELS.register_module()
class AlignmentAwareFilter(BaseBlockFilter):
    """AFM: mask a fraction ``rho`` of the weakly aligned blocks.

    The score map is upsampled bilinearly (``align_corners=False``) to ``H x W``. Blocks are
    ``bh x bw`` (``block_size``) on a ``ceil(H/bh) x ceil(W/bw)`` grid; the last row /
    column of blocks may be partial and is a block like the others.

    - ``granularity='block'`` (default): a block is weak when the mean of its upsampled
      scores is ``< tau``. Of the ``n`` weak blocks of an image, exactly
      ``k = floor(rho * n + 0.5)`` are masked (round half up, no minimum: ``n = 1`` with
      ``rho = 0.25`` masks nothing), drawn uniformly without replacement.
    - ``granularity='pixel'`` (the paper's literal recipe): weak pixels are those ``< tau``;
      each is selected with probability ``rho``; a block is masked when any selected pixel
      lies in it. Dense weak sets then mask nearly every weak block (the density trap of
      ``docs/en/aml.md``).

    With ``valid`` (the real image's pixels), blocks of padding only are neither weak nor
    drawn, and ``G`` below counts the other blocks.

    ``count`` (block granularity only) replaces ``rho``: ``round(count * G)`` of the ``G``
    blocks of the image are masked, drawn among the weak ones (all weak blocks when there are
    fewer), so that settings whose weak sets differ in size hide the same share of the image
    (the oracle ablations).

    ``mode='random'`` masks the same number of blocks per image as ``'aml'`` would, drawn
    uniformly among **all** blocks (the paper's "+ Random Mask" ablation); ``mode='none'``
    masks nothing but still reports the weak set and the statistics.

    Args:
        tau (float): Weak threshold on the (upsampled) score. Defaults to 0.4.
        rho (float): Fraction of the weak set selected, in ``[0, 1]``. Defaults to 0.25.
        block_size (int | tuple[int, int]): Mask block ``(bh, bw)``. Defaults to 32.
        granularity (str): ``'block'`` or ``'pixel'``. Defaults to ``'block'``.
        mode (str): ``'aml'``, ``'random'`` or ``'none'``. Defaults to ``'aml'``.
        count (float, optional): Share of all blocks to mask, in ``[0, 1]``, instead of
            ``rho`` of the weak ones. Defaults to None (``rho``).
        init_cfg (dict, optional): Unused (no parameters).
    """

    def __init__(self,
                 tau: float = 0.4,
                 rho: float = 0.25,
                 block_size: Union[int, Sequence[int]] = 32,
                 granularity: str = 'block',
                 mode: str = 'aml',
                 count: Optional[float] = None,
                 init_cfg=None) -> None:
        super().__init__(block_size, init_cfg=init_cfg)
        name = type(self).__name__
        if granularity not in ('block', 'pixel'):
            raise ValueError(f"{name}: granularity must be one of ['block', 'pixel'], got "
                             f'{granularity!r}.')
        if mode not in ('aml', 'random', 'none'):
            raise ValueError(f"{name}: mode must be one of ['aml', 'random', 'none'], got "
                             f'{mode!r}.')
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f'{name}: rho (the fraction of the weak set that is masked) must '
                             f'be in [0, 1], got {rho!r}.')
        if not math.isfinite(tau):
            raise ValueError(f'{name}: tau must be finite, got {tau!r}.')
        if count is not None and not (granularity == 'block' and 0.0 <= count <= 1.0):
            raise ValueError(f"{name}: count (a share of all blocks, in [0, 1]) needs "
                             f"granularity='block', got count={count!r} with "
                             f'granularity={granularity!r}.')
        self.count = None if count is None else float(count)
        self.tau = float(tau)
        self.rho = float(rho)
        self.granularity = granularity
        self.mode = mode
        self.weak_by_blocks = granularity == 'block'

    def extra_repr(self) -> str:
        return (f'tau={self.tau}, rho={self.rho}, block_size={self.block_size}, '
                f'granularity={self.granularity!r}, mode={self.mode!r}' +
                ('' if self.count is None else f', count={self.count}'))

    def check_image_size(self, height: int, width: int) -> None:
        """Refuse images smaller than one block: a masked block would hide all of it.

        :class:`AMLSegmentor` calls this with every sample's ``img_shape`` (the image before
        batch padding, which the tensor shape does not show).

        Raises:
            InputValueError: If ``granularity='block'``, ``mode != 'none'`` and ``height`` or
                ``width`` is smaller than the block.
        """
        if self.granularity == 'block' and self.mode != 'none':
            self.refuse_smaller_than_a_block(height, width)

    def forward(self, score_map: Tensor, image_size: Tuple[int, int],
                valid: Optional[Tensor] = None) -> BlockSelection:
        """Weak blocks by ``tau``, then ``rho`` of them (or as many random blocks); only
        blocks holding real-image pixels (``valid``) are candidates."""
        score_pix = F.interpolate(score_map, size=image_size, mode='bilinear',
                                  align_corners=False)
        candidates = None if valid is None else \
            self.candidate_blocks(valid, score_map.shape[0], image_size, score_map.device)
        masked, weak_mask, weak_blocks = self._weak_and_drawn(score_pix, candidates, valid)
        if self.mode == 'random':
            counts = masked.flatten(1).sum(dim=1)
            pool = torch.ones_like(masked) if candidates is None else candidates
            masked = draw_without_replacement(pool.flatten(1), counts).view_as(masked)
        elif self.mode == 'none':
            masked = torch.zeros_like(masked)
        return BlockSelection(masked, weak_blocks, weak_mask)

    def _weak_and_drawn(self, score_pix: Tensor, candidates: Optional[Tensor],
                        valid: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """``(masked [B, Gh, Gw], weak pixels [B, 1, H, W], weak blocks [B, Gh, Gw])``."""
        image_size = score_pix.shape[-2:]
        if self.granularity == 'block':
            pooled = pool_blocks(score_pix[:, 0], self.block_size, 'mean')
            weak_blocks = pooled < self.tau  # [B, Gh, Gw]
            if candidates is not None:
                weak_blocks &= candidates
            flat = weak_blocks.flatten(1)
            if self.count is None:
                counts = (flat.sum(dim=1).double() * self.rho + 0.5).floor().long()
            else:  # a fixed share of all (candidate) blocks, as far as the weak set allows
                total = flat.new_full(flat.shape[:1], flat.shape[1], dtype=torch.long) \
                    if candidates is None else candidates.flatten(1).sum(dim=1)
                wanted = (total.double() * self.count + 0.5).floor().long()
                counts = torch.minimum(flat.sum(dim=1), wanted)
            masked = draw_without_replacement(flat, counts).view_as(weak_blocks)
            weak_mask = expand_blocks(weak_blocks, image_size, self.block_size)
            return masked, weak_mask, weak_blocks
        weak_mask = score_pix < self.tau
        if valid is not None:
            weak_mask &= valid
        selected = weak_mask & (torch.rand(weak_mask.shape, device=weak_mask.device) < self.rho)
        masked = pool_blocks(selected[:, 0].float(), self.block_size, 'max') > 0
        weak_blocks = pool_blocks(weak_mask[:, 0].float(), self.block_size, 'max') > 0
        return masked, weak_mask, weak_blocks
