# Copyright (c) mmamlris contributors. All rights reserved.
"""Alignment-aware masking (AML): a scorer scores the cells, a filter chooses the blocks."""
import contextlib
import math
from typing import Dict, NamedTuple, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from mmseg.utils import ConfigType, OptSampleList
from torch import Tensor

from mmamlris.registry import MODELS
from .alignment_statistics import alignment_statistics, gt_masks
from .block_ops import expand_blocks
from .filters import BaseBlockFilter
from .image_region import real_image_pixels
from .scorers import BaseAlignmentScorer

__all__ = ['AMLOutput', 'AlignmentAwareMasking']


class AMLOutput(NamedTuple):
    """What :class:`AlignmentAwareMasking` returns for one batch.

    Attributes:
        masked_inputs (Tensor): ``[B, C, H, W]`` images with the masked blocks set to
            ``fill_value`` (0 = the mean colour in normalised space), same dtype as the input;
            the inputs themselves with ``mask_target='loss'``.
        block_mask (Tensor): ``[B, 1, H, W]`` bool, True where a pixel belongs to a masked block.
        score_map (Tensor): ``[B, 1, h, w]`` float32 alignment score per feature cell, as the
            scorer returned it: the map that the filter thresholds (after upsampling).
        weak_mask (Tensor): ``[B, 1, H, W]`` bool, the weak set (weak blocks for the block
            filters, weak pixels for the pixel ones).
        stats (dict[str, Tensor]): 0-dim float32 statistics for the log (no key contains
            ``loss``): ``aml_mask_ratio``, ``aml_weak_ratio``, ``aml_score_mean``,
            ``aml_masked_blocks``, ``aml_weak_blocks``, ``aml_block_mask_ratio`` (see
            :meth:`BaseBlockFilter.statistics`) and, when the samples carry their GT,
            ``aml_target_auc``, ``aml_object_masked``, ``aml_context_masked`` (see
            :func:`alignment_statistics`).
        losses (dict[str, Tensor]): The scorer's own loss terms (training only; empty for a
            scorer without parameters).
    """
    masked_inputs: Tensor
    block_mask: Tensor
    score_map: Tensor
    weak_mask: Tensor
    stats: Dict[str, Tensor]
    losses: Dict[str, Tensor]


@MODELS.register_module()
class AlignmentAwareMasking(BaseModule):
    """Alignment-aware masking of AMLRIS: a scorer, then a filter, then the masked images.

    A training-only component. Stage 1 of :class:`AMLSegmentor` gives it the clean images and
    their features; it returns the images with weakly aligned blocks masked, for the stage-2
    forward and loss (the algorithm: ``docs/en/aml.md``)::

        forward(inputs, feats, text_feat, text_mask, data_samples, seg_logits)
          float32, autocast off, features detached:
            out = scorer(feats, text_feat, text_mask, data_samples, (H, W), seg_logits)
                  (with grad only for a trainable scorer in training)
          no grad:
            score_map = scorer.scores(out)                  # [B, 1, h, w]
            valid = real_image_pixels(data_samples)         # None unless there is padding
            selection = filter(score_map, (H, W), valid)    # masked / weak blocks [B, Gh, Gw]
            masked_inputs = where(block_mask, fill_value, inputs)
            stats: the filter's, plus alignment_statistics() against the GT if present
          training: losses = scorer.loss_by_feat(out, data_samples, (H, W))
          -> AMLOutput(masked_inputs, block_mask, score_map, weak_mask, stats, losses)

    The paper: ``scorer=dict(type='PatchMaxScorer', ...)`` (PMME) and
    ``filter=dict(type='AlignmentAwareFilter', ...)`` (AFM), the defaults. The released code:
    ``ReleasedRelevanceScorer`` + ``ReleasedBlockFilter``. ``fill_value=0`` is the mean colour
    of the normalised batch, i.e. ``inputs * (1 - block_mask)``.

    Args:
        scorer (dict): Config of a :class:`BaseAlignmentScorer` (``vis_channels`` and
            ``text_channels`` included).
        filter (dict): Config of a :class:`BaseBlockFilter`. Defaults to the paper's AFM,
            ``dict(type='AlignmentAwareFilter')`` (``tau=0.4, rho=0.25``, 32x32 blocks).
        fill_value (float): Value of masked pixels (normalised space). Defaults to 0.0.
        mask_target (str): What the chosen blocks are hidden from. ``'image'`` (the paper's
            method, the default): they are blanked in the stage-2 image. ``'loss'``: the image
            is left untouched and :class:`AMLSegmentor` ignores the blocks' pixels in the
            stage-2 loss instead -- the other reading of the paper's "weakly aligned pixels
            are masked from the supervision signal" (an ablation).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 scorer: ConfigType,
                 filter: ConfigType = dict(type='AlignmentAwareFilter'),
                 fill_value: float = 0.0,
                 mask_target: str = 'image',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mask_target not in ('image', 'loss'):
            raise ValueError(f"AlignmentAwareMasking: mask_target must be 'image' or 'loss', "
                             f'got {mask_target!r}.')
        self.mask_target = mask_target
        self._init_scorer(scorer)
        self._init_filter(filter)
        if not math.isfinite(fill_value):
            raise ValueError(f'AlignmentAwareMasking: fill_value must be finite, got '
                             f'{fill_value!r}.')
        self.fill_value = float(fill_value)

    def _init_scorer(self, scorer: ConfigType) -> None:
        """Build ``scorer``; it must be a :class:`BaseAlignmentScorer`."""
        self.scorer = MODELS.build(scorer) if isinstance(scorer, dict) else scorer
        if not isinstance(self.scorer, BaseAlignmentScorer):
            raise TypeError(f'AlignmentAwareMasking: scorer must build a BaseAlignmentScorer '
                            f'(e.g. PatchMaxScorer), got {type(self.scorer).__name__}.')

    def _init_filter(self, block_filter: ConfigType) -> None:
        """Build ``filter``; it must be a :class:`BaseBlockFilter`."""
        self.filter = (MODELS.build(block_filter)
                       if isinstance(block_filter, dict) else block_filter)
        if not isinstance(self.filter, BaseBlockFilter):
            raise TypeError(f'AlignmentAwareMasking: filter must build a BaseBlockFilter '
                            f'(e.g. AlignmentAwareFilter), got {type(self.filter).__name__}.')
        scorer_block = getattr(self.scorer, 'block_size', None)  # a scorer that works on blocks
        if scorer_block is not None and tuple(scorer_block) != tuple(self.filter.block_size):
            raise ValueError(f'AlignmentAwareMasking: the scorer scores blocks of '
                             f'{tuple(scorer_block)} but the filter masks blocks of '
                             f'{tuple(self.filter.block_size)}; set model.aml.scorer.block_size '
                             f'to the filter\'s block_size.')

    @property
    def needs_seg_logits(self) -> bool:
        """bool: Whether stage 1 must pass the decode head's logits (``seg_logits``)."""
        return bool(getattr(self.scorer, 'needs_seg_logits', False))

    @property
    def block_size(self):
        """tuple[int, int]: ``(bh, bw)`` of the filter's blocks."""
        return self.filter.block_size

    def extra_repr(self) -> str:
        return f'fill_value={self.fill_value}, mask_target={self.mask_target!r}'

    # ------------------------------------------------------------------ checks
    def check_image_size(self, height: int, width: int) -> None:
        """Refuse image sizes the filter cannot mask (see the filter's ``check_image_size``).

        :class:`AMLSegmentor` calls this with every sample's ``img_shape`` (the image before
        batch padding, which the tensor shape does not show).
        """
        self.filter.check_image_size(height, width)

    def _check_inputs(self, inputs: Tensor, feats: Sequence[Tensor], text_feat: Tensor,
                      text_mask: Tensor) -> None:
        """Clear errors for tensors of the wrong rank, width or batch size."""
        name = type(self).__name__
        if inputs.dim() != 4:
            raise ValueError(f'{name}: inputs must be [B, C, H, W], got shape '
                             f'{tuple(inputs.shape)}.')
        self.scorer.check_inputs(feats, text_feat, text_mask)
        if inputs.shape[0] != text_feat.shape[0]:
            raise ValueError(f'{name}: inputs and the features must have the same batch '
                             f'size, got {inputs.shape[0]} and {text_feat.shape[0]}.')
        self.check_image_size(*inputs.shape[-2:])

    # ------------------------------------------------------------------ masking
    def mask_from_scores(self, inputs: Tensor, score_map: Tensor,
                         valid: Optional[Tensor] = None) -> AMLOutput:
        """Filter a score map and mask the chosen blocks of ``inputs``.

        Args:
            inputs (Tensor): Normalised, padded images ``[B, C, H, W]``.
            score_map (Tensor): ``[B, 1, h, w]`` scores (as a scorer returns them).
            valid (Tensor, optional): ``[B, 1, H, W]`` bool, the real images' pixels
                (:func:`real_image_pixels`): blocks of padding only are never masked.

        Returns:
            AMLOutput: Masked images, masks, the score map and the statistics (no losses).
        """
        if inputs.dim() != 4 or score_map.dim() != 4 or score_map.shape[1] != 1 or \
                score_map.shape[0] != inputs.shape[0]:
            raise ValueError(f'{type(self).__name__}.mask_from_scores: needs inputs [B, C, H, W] '
                             f'and score_map [B, 1, h, w] with the same B, got shapes '
                             f'{tuple(inputs.shape)} and {tuple(score_map.shape)}.')
        image_size = tuple(inputs.shape[-2:])
        score_map = score_map.float()
        selection = self.filter(score_map, image_size, valid)
        block_mask = expand_blocks(selection.masked, image_size, self.filter.block_size)
        masked_inputs = (inputs if self.mask_target == 'loss' else
                         inputs.masked_fill(block_mask, self.fill_value))
        stats = self.filter.statistics(selection, image_size)
        stats = dict(aml_mask_ratio=stats.pop('aml_mask_ratio'),
                     aml_weak_ratio=stats.pop('aml_weak_ratio'),
                     aml_score_mean=score_map.mean(), **stats)
        return AMLOutput(masked_inputs, block_mask, score_map, selection.weak_mask, stats,
                         dict())

    def forward(self, inputs: Tensor, feats: Union[Tensor, Sequence[Tensor]],
                text_feat: Tensor, text_mask: Tensor,
                data_samples: OptSampleList = None,
                seg_logits: Optional[Tensor] = None) -> AMLOutput:
        """Score the alignment of every feature cell and mask weakly aligned blocks.

        Args:
            inputs (Tensor): Normalised, padded images ``[B, 3, H, W]``.
            feats (Sequence[Tensor] | Tensor): The stage-1 feature levels of the same images,
                each ``[B, C_i, h_i, w_i]`` (``None`` at levels stage 1 skipped); the scorer
                selects the ones it reads (its ``in_index``). A single tensor is one level.
            text_feat (Tensor): Token features ``[B, N, C_t]``.
            text_mask (Tensor): ``[B, N]`` bool, True for real tokens.
            data_samples (list[SegDataSample], optional): The batch's samples, for scorers
                that read them (e.g. the GT) and for the alignment statistics.
            seg_logits (Tensor, optional): Stage-1 decoder logits, for a scorer that
                :attr:`needs_seg_logits`.

        Returns:
            AMLOutput: See :class:`AMLOutput`.
        """
        feats = (feats, ) if isinstance(feats, Tensor) else tuple(feats)
        self._check_inputs(inputs, feats, text_feat, text_mask)
        feats = tuple(None if f is None else f.detach() for f in feats)
        text_feat = text_feat.detach()
        image_size = tuple(inputs.shape[-2:])
        trainable = self.training and any(p.requires_grad for p in self.scorer.parameters())
        with torch.autocast(device_type=inputs.device.type, enabled=False):
            with contextlib.nullcontext() if trainable else torch.no_grad():
                scorer_out = self.scorer(feats, text_feat, text_mask, data_samples, image_size,
                                         seg_logits)
            with torch.no_grad():
                valid = real_image_pixels(data_samples, image_size, inputs.device)
                out = self.mask_from_scores(inputs, self.scorer.scores(scorer_out), valid)
                gt = gt_masks(data_samples, image_size, inputs.device)
                if gt is not None:
                    out.stats.update(alignment_statistics(out.score_map, out.block_mask, gt,
                                                          self.filter.block_size))
            if self.training:
                out = out._replace(
                    losses=self.scorer.loss_by_feat(scorer_out, data_samples, image_size))
        return out
