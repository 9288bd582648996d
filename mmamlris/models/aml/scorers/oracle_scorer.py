# Copyright (c) mmamlris contributors. All rights reserved.
"""The GT as an alignment score: the upper bound of any alignment-aware scorer."""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmseg.utils import OptSampleList
from torch import Tensor

from mmamlris.registry import MODELS
from ..alignment_statistics import block_targets, fit_to_size, gt_masks
from ..block_ops import as_pair, expand_blocks
from .base_scorer import BaseAlignmentScorer

__all__ = ['OracleScorer']


@MODELS.register_module()
class OracleScorer(BaseAlignmentScorer):
    """Score 1 on every block that holds a pixel of the referred object, 0 elsewhere.

    It reads the GT of the batch (training only) and returns a map at pixel resolution,
    ``[B, 1, H, W]``, constant on the filter's blocks, so that with any ``tau`` in ``(0, 1]`` a
    block holding any pixel of the referred object is never weak and never masked by
    :class:`AlignmentAwareFilter` (``aml_object_masked`` is exactly 0), while ``rho`` of the
    other blocks are. It answers the question behind AML directly: does hiding context that does
    not match the expression help at all? (:class:`ReleasedBlockFilter`'s indexing slip can
    still hide object blocks.) The features are not used.

    ``hide`` chooses which blocks are candidates (score 0), to ask *which* context matters:
    ``'context'`` (default) every block without the referred object; ``'background'`` only
    blocks without any annotated object; ``'distractors'`` only blocks that hold another
    object and not the referred one. The last two read ``data_sample.gt_objects`` (all objects
    of the image: ``RefCOCODataset(with_objects=True)`` and ``LoadObjectsMask``). With
    ``AlignmentAwareFilter(count=...)`` the three hide the same number of blocks.

    Args:
        vis_channels (int): ``C_v`` of level ``in_index`` (checked, not used).
        text_channels (int): ``C_t`` of the token features (checked, not used).
        in_index (int): The feature level checked (not used). Defaults to -1.
        block_size (int | tuple[int, int]): The filter's block; :class:`AlignmentAwareMasking`
            refuses a scorer whose block differs from its filter's. Defaults to 32, the
            default block of the filters.
        ignore_index (int): GT value of ignored pixels (counted as context). Defaults to 255.
        hide (str): ``'context'``, ``'background'`` or ``'distractors'`` (see above).
            Defaults to ``'context'``.
        init_cfg (dict, optional): Unused (no parameters).
    """

    def __init__(self,
                 vis_channels: int,
                 text_channels: int,
                 in_index: int = -1,
                 block_size: Union[int, Sequence[int]] = 32,
                 ignore_index: int = 255,
                 hide: str = 'context',
                 init_cfg=None) -> None:
        super().__init__(vis_channels, text_channels, in_index, init_cfg=init_cfg)
        if hide not in ('context', 'background', 'distractors'):
            raise ValueError(f"OracleScorer: hide must be 'context', 'background' or "
                             f"'distractors', got {hide!r}.")
        self.hide = hide
        self.block_size: Tuple[int, int] = as_pair(block_size, 'block_size', 'OracleScorer')
        self.ignore_index = ignore_index

    def extra_repr(self) -> str:
        return (f'block_size={self.block_size}, ignore_index={self.ignore_index}, '
                f'hide={self.hide!r}')

    def forward(self, feats: Sequence[Tensor], text_feat: Tensor, text_mask: Tensor,
                data_samples: OptSampleList = None,
                image_size: Optional[Tuple[int, int]] = None,
                seg_logits: Optional[Tensor] = None) -> Tensor:
        """``[B, 1, H, W]`` float32: 0 on the candidate blocks (see ``hide``), 1 elsewhere."""
        if image_size is None:
            raise ValueError('OracleScorer needs the image size (AlignmentAwareMasking passes '
                             'it).')
        gt = gt_masks(data_samples, image_size, text_feat.device, required_by='OracleScorer')
        target, _ = block_targets(gt, self.block_size, self.ignore_index)
        keep = target
        if self.hide != 'context':
            if any('gt_objects' not in s for s in data_samples):
                raise ValueError(f"OracleScorer(hide='{self.hide}') reads gt_objects (all "
                                 'objects of the image) of every sample: build the dataset '
                                 'with with_objects=True and add LoadObjectsMask to the '
                                 'training pipeline.')
            objects = torch.stack([
                fit_to_size(s.gt_objects.data[0].to(gt.device).long(), image_size, 0)
                for s in data_samples])
            any_object, _ = block_targets(objects, self.block_size, self.ignore_index)
            # background: keep every block with an object; distractors: keep the target's
            # blocks and the blocks with no object at all
            keep = any_object if self.hide == 'background' else target | ~any_object
        return expand_blocks(keep, image_size, self.block_size).float()
