# Copyright (c) mmamlris contributors. All rights reserved.
"""The interface of an alignment scorer: stage-1 features -> one score per feature cell."""
from typing import Dict, Optional, Sequence, Tuple

from mmengine.model import BaseModule
from mmseg.utils import OptSampleList
from torch import Tensor

__all__ = ['BaseAlignmentScorer']


class BaseAlignmentScorer(BaseModule):
    """Base class of the scorers of :class:`AlignmentAwareMasking`.

    A scorer says, for every cell of one visual feature level, how well the cell matches the
    expression. :class:`AlignmentAwareMasking` calls it on the stage-1 features, without
    gradient and with autocast off::

        score_map = scorer(vis_feat, text_feat, text_mask, data_samples,
                           image_size=(H, W), seg_logits=...)        # [B, 1, h, w]
        losses = scorer.loss(vis_feat, text_feat, text_mask, data_samples,
                             image_size=(H, W), seg_logits=...)      # training only

    A high score means "aligned" (kept), a low one "weak" (a candidate for masking); the
    filter thresholds it after bilinear upsampling to the image size, so the scores should
    live in ``[0, 1]`` for the filter's ``tau`` to mean the same thing for every scorer.

    ``data_samples`` (the batch's :class:`SegDataSample` s, GT included during training) let
    a scorer read the annotation; a scorer with trainable parameters returns its own loss
    terms from :meth:`loss` (keys containing ``loss`` are optimised with the model's; its
    inputs are detached, so no gradient reaches the model through them). ``image_size`` is the
    ``(H, W)`` of the padded image batch; ``seg_logits`` are the stage-1 decoder logits, given
    only to a scorer whose :attr:`needs_seg_logits` is True (stage 1 then runs the decoder).
    A scorer may return its map at any resolution, the image's included.

    Args:
        vis_channels (int): ``C_v`` of the visual features.
        text_channels (int): ``C_t`` of the token features.
        init_cfg (dict, optional): Initialisation config.
    """

    #: Whether stage 1 must run the decode head and pass its logits (``seg_logits``).
    needs_seg_logits: bool = False

    def __init__(self, vis_channels: int, text_channels: int, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('vis_channels', vis_channels), ('text_channels', text_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f'{type(self).__name__}: {name} must be a positive int, '
                                 f'got {value!r}.')
        self.vis_channels = vis_channels
        self.text_channels = text_channels

    def forward(self, vis_feat: Tensor, text_feat: Tensor, text_mask: Tensor,
                data_samples: OptSampleList = None,
                image_size: Optional[Tuple[int, int]] = None,
                seg_logits: Optional[Tensor] = None,
                vis_levels: Optional[Sequence[Tensor]] = None) -> Tensor:
        """Score every feature cell.

        Args:
            vis_feat (Tensor): ``[B, C_v, h, w]`` float32.
            text_feat (Tensor): ``[B, N, C_t]`` float32.
            text_mask (Tensor): ``[B, N]``, True (or 1) for real tokens.
            data_samples (list[SegDataSample], optional): The batch's samples.
            image_size (tuple[int, int], optional): ``(H, W)`` of the padded images.
            seg_logits (Tensor, optional): Stage-1 decoder logits (``needs_seg_logits``).
            vis_levels (list[Tensor], optional): Every stage-1 feature level (``vis_feat`` is
                one of them), for scorers that read more than one.

        Returns:
            Tensor: float32 ``[B, 1, h', w']`` (usually the feature grid).
        """
        raise NotImplementedError

    def loss(self, vis_feat: Tensor, text_feat: Tensor, text_mask: Tensor,
             data_samples: OptSampleList = None,
             image_size: Optional[Tuple[int, int]] = None,
             seg_logits: Optional[Tensor] = None,
             vis_levels: Optional[Sequence[Tensor]] = None) -> Dict[str, Tensor]:
        """Loss terms of a trainable scorer; none by default."""
        return dict()

    def check_inputs(self, vis_feat: Tensor, text_feat: Tensor,
                     text_mask: Optional[Tensor]) -> None:
        """Clear errors for features of the wrong rank, width or batch size."""
        name = type(self).__name__
        if vis_feat.dim() != 4 or vis_feat.shape[1] != self.vis_channels:
            raise ValueError(f'{name}: vis_feat must be [B, vis_channels={self.vis_channels}, '
                             f'h, w], got shape {tuple(vis_feat.shape)}; set vis_channels to '
                             f'the channels of the feature level AML uses.')
        if text_feat.dim() != 3 or text_feat.shape[2] != self.text_channels:
            raise ValueError(f'{name}: text_feat must be [B, N, text_channels='
                             f'{self.text_channels}], got shape {tuple(text_feat.shape)}; set '
                             f'text_channels to the width of the text encoder.')
        if text_mask is not None and text_mask.shape != text_feat.shape[:2]:
            raise ValueError(f'{name}: text_mask must be [B, N] = {tuple(text_feat.shape[:2])} '
                             f'(True for real tokens), got shape {tuple(text_mask.shape)}.')
        if vis_feat.shape[0] != text_feat.shape[0]:
            raise ValueError(f'{name}: vis_feat and text_feat must have the same batch size, '
                             f'got {vis_feat.shape[0]} and {text_feat.shape[0]}.')
        if text_feat.shape[1] == 0:
            raise ValueError(f'{name}: text_feat has no token slot (N = 0).')
