# Copyright (c) mmamlris contributors. All rights reserved.
"""Mask a fixed fraction of the blocks at random, whatever the scores (MaskRIS-style)."""
from typing import Optional, Sequence, Tuple, Union

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
    helps". Every block counts as weak; with ``valid``, only the blocks that hold part of the
    real image are drawn from (and counted in ``G``).

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

    def forward(self, score_map: Tensor, image_size: Tuple[int, int],
                valid: Optional[Tensor] = None) -> BlockSelection:
        """``ratio`` of the (candidate) blocks of every image, drawn without replacement."""
        every = self.candidate_blocks(valid, score_map.shape[0], image_size, score_map.device)
        flat = every.flatten(1)
        count = (flat.sum(dim=1).double() * self.ratio + 0.5).floor().long()
        masked = draw_without_replacement(flat, count).view_as(every)
        return BlockSelection(masked, every, expand_blocks(every, image_size, self.block_size))
