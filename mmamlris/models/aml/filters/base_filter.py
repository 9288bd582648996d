# Copyright (c) mmamlris contributors. All rights reserved.
"""The interface of an AML filter: a score map -> the blocks to mask."""
import math
from typing import Dict, NamedTuple, Optional, Sequence, Tuple, Union

import torch

from mmengine.model import BaseModule
from torch import Tensor

from mmamlris.utils.errors import InputValueError
from ..block_ops import as_pair, block_area, pool_blocks

__all__ = ['BaseBlockFilter', 'BlockSelection']


class BlockSelection(NamedTuple):
    """What a filter chose for one batch.

    Attributes:
        masked (Tensor): ``[B, Gh, Gw]`` bool, the blocks to mask (``Gh = ceil(H / bh)``,
            ``Gw = ceil(W / bw)``; the last row / column of blocks may be partial).
        weak_blocks (Tensor): ``[B, Gh, Gw]`` bool, the weak blocks (a block is weak when it
            holds a weak pixel, for the filters that decide per pixel).
        weak_mask (Tensor): ``[B, 1, H, W]`` bool, the weak set at pixel resolution.
    """
    masked: Tensor
    weak_blocks: Tensor
    weak_mask: Tensor


class BaseBlockFilter(BaseModule):
    """Base class of the filters of :class:`AlignmentAwareMasking`.

    ``filter(score_map, image_size, valid) -> BlockSelection``: the score map ``[B, 1, h, w]``
    (float32, high = aligned) of the scorer becomes a choice of ``bh x bw`` blocks on the
    padded ``H x W`` batch. ``valid`` (``[B, 1, H, W]`` bool, optional) marks the pixels of the
    real image: a block of padding only (batch padding, a letterbox's border) is never a
    candidate, so padding does not spend the masking budget. A filter draws its random choices
    from torch's global generator on the score map's device (so that
    :class:`RandomStateHook` makes them reproducible).

    Args:
        block_size (int | tuple[int, int]): Mask block ``(bh, bw)``. Defaults to 32.
        init_cfg (dict, optional): Unused (no parameters).
    """

    #: Whether the weak fraction is counted on whole blocks (else on weak pixels).
    weak_by_blocks: bool = False

    def __init__(self, block_size: Union[int, Sequence[int]] = 32, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.block_size = as_pair(block_size, 'block_size', type(self).__name__)

    def forward(self, score_map: Tensor, image_size: Tuple[int, int],
                valid: Optional[Tensor] = None) -> BlockSelection:
        """Choose the blocks to mask.

        Args:
            score_map (Tensor): ``[B, 1, h, w]`` float32 scores.
            image_size (tuple[int, int]): ``(H, W)`` of the (padded) image batch.
            valid (Tensor, optional): ``[B, 1, H, W]`` bool, the real image's pixels; None
                when every pixel is.

        Returns:
            BlockSelection: The masked and weak blocks, and the weak pixels.
        """
        raise NotImplementedError

    def check_image_size(self, height: int, width: int) -> None:
        """Refuse image sizes the filter cannot mask sensibly (nothing by default)."""

    def refuse_smaller_than_a_block(self, height: int, width: int) -> None:
        """Raise :class:`InputValueError` if ``height x width`` is smaller than one block.

        For the filters that mask whole blocks: a masked block would hide the whole image.
        """
        block_h, block_w = self.block_size
        if height < block_h or width < block_w:
            raise InputValueError(
                f'AlignmentAwareMasking: the input images are {height}x{width}, smaller than '
                f'one AML block ({block_h}x{block_w}), so a masked block would hide the whole '
                'image. Resize the images to at least the block size (the `scale` of Resize in '
                'the pipeline) or lower model.aml.filter.block_size.')

    def statistics(self, selection: BlockSelection, image_size: Tuple[int, int]
                   ) -> Dict[str, Tensor]:
        """0-dim float32 statistics of a selection, for the log (no key contains ``loss``).

        Returns:
            dict[str, Tensor]: ``aml_mask_ratio`` (fraction of pixels masked),
            ``aml_weak_ratio`` (fraction of pixels weak), ``aml_masked_blocks`` and
            ``aml_weak_blocks`` (blocks per image, batch mean) and ``aml_block_mask_ratio``
            (fraction of blocks masked).
        """
        masked, weak_blocks, weak_mask = selection
        area = block_area(image_size, self.block_size, masked.device)
        num_pixels = masked.shape[0] * image_size[0] * image_size[1]
        if self.weak_by_blocks:
            weak_ratio = (weak_blocks * area).sum() / num_pixels
        else:
            weak_ratio = weak_mask.count_nonzero().float() / num_pixels
        return dict(
            aml_mask_ratio=(masked * area).sum() / num_pixels,
            aml_weak_ratio=weak_ratio,
            aml_masked_blocks=masked.flatten(1).sum(dim=1).float().mean(),
            aml_weak_blocks=weak_blocks.flatten(1).sum(dim=1).float().mean(),
            aml_block_mask_ratio=masked.float().mean())

    def candidate_blocks(self, valid: Optional[Tensor], batch: int,
                         image_size: Tuple[int, int], device: torch.device) -> Tensor:
        """``[B, Gh, Gw]`` bool: the blocks holding at least one real-image pixel."""
        if valid is None:
            return torch.ones(batch, *self.grid_size(image_size), dtype=torch.bool,
                              device=device)
        return pool_blocks(valid[:, 0].float(), self.block_size, 'max') > 0

    def grid_size(self, image_size: Tuple[int, int]) -> Tuple[int, int]:
        """``(Gh, Gw)`` of the block grid of an ``H x W`` image."""
        return (math.ceil(image_size[0] / self.block_size[0]),
                math.ceil(image_size[1] / self.block_size[1]))
