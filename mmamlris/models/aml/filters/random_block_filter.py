# Copyright (c) mmamlris contributors. All rights reserved.
"""Mask a fixed fraction of the blocks at random, whatever the scores (MaskRIS-style)."""
from typing import Sequence, Tuple, Union

import torch
from torch import Tensor

from mmamlris.registry import MODELS
from ..block_ops import draw_without_replacement, expand_blocks
from .base_filter import BaseBlockFilter, BlockSelection

__all__ = ['RandomBlockFilter']


@MODELS.register_module()
class RandomBlockFilter(BaseBlockFilter):
    """Mask ``floor(ratio * G + 0.5)`` of the ``G`` blocks of every image, uniformly at random.

    The scores are ignored: the heavy random masking of MaskRIS (which masks a large share of
    the image), as the ablation row that separates "masking helps" from "aligned masking
    helps". Every block counts as weak.

    Args:
        ratio (float): Fraction of the blocks masked, in ``[0, 1]``. Defaults to 0.5.
        block_size (int | tuple[int, int]): Mask block ``(bh, bw)``. Defaults to 32.
        init_cfg (dict, optional): Unused (no parameters).
    """

    weak_by_blocks = True

    def __init__(self, ratio: float = 0.5, block_size: Union[int, Sequence[int]] = 32,
                 init_cfg=None) -> None:
        super().__init__(block_size, init_cfg=init_cfg)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f'RandomBlockFilter: ratio must be in [0, 1], got {ratio!r}.')
        self.ratio = float(ratio)

    def extra_repr(self) -> str:
        return f'ratio={self.ratio}, block_size={self.block_size}'

    def check_image_size(self, height: int, width: int) -> None:
        """Refuse images smaller than one block (a masked block would hide all of it)."""
        self.refuse_smaller_than_a_block(height, width)

    def forward(self, score_map: Tensor, image_size: Tuple[int, int]) -> BlockSelection:
        """``ratio`` of the blocks of every image, drawn without replacement."""
        batch = score_map.shape[0]
        gh, gw = self.grid_size(image_size)
        every = torch.ones(batch, gh * gw, dtype=torch.bool, device=score_map.device)
        count = torch.full((batch, ), int(self.ratio * gh * gw + 0.5), device=every.device)
        masked = draw_without_replacement(every, count).view(batch, gh, gw)
        weak_blocks = every.view(batch, gh, gw)
        return BlockSelection(masked, weak_blocks,
                              expand_blocks(weak_blocks, image_size, self.block_size))
