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
    expression. Like mmseg's ``BaseDecodeHead``, it declares what it reads (``in_index``, the
    level it scores, and that level's width ``vis_channels``) and receives the whole tuple of
    stage-1 feature levels, from which it selects its own inputs
    (:meth:`_transform_inputs`). :class:`AlignmentAwareMasking` calls it on the stage-1
    features (detached, float32, autocast off)::

        out = scorer(feats, text_feat, text_mask, data_samples, image_size, seg_logits)
        score_map = scorer.scores(out)                      # [B, 1, h, w], no gradient
        losses = scorer.loss_by_feat(out, data_samples, image_size)   # training only

    ``forward`` runs without gradient unless the scorer has trainable parameters and the
    model trains; ``loss`` = ``forward`` -> ``loss_by_feat``, as in ``BaseDecodeHead``.

    A high score means "aligned" (kept), a low one "weak" (a candidate for masking); the
    filter thresholds it after bilinear upsampling to the image size, so the scores should
    live in ``[0, 1]`` for the filter's ``tau`` to mean the same thing for every scorer.

    ``data_samples`` (the batch's :class:`SegDataSample` s, GT included during training) let
    a scorer read the annotation; a scorer with trainable parameters returns its own loss
    terms from :meth:`loss_by_feat` (keys containing ``loss`` are optimised with the model's;
    its inputs are detached, so no gradient reaches the model through them). ``image_size`` is
    the ``(H, W)`` of the padded image batch; ``seg_logits`` are the stage-1 decoder logits,
    given only to a scorer whose :attr:`needs_seg_logits` is True (stage 1 then runs the
    decoder). A scorer may return its map at any resolution, the image's included.

    Args:
        vis_channels (int): ``C_v``, the width of level ``in_index``.
        text_channels (int): ``C_t`` of the token features.
        in_index (int): The feature level scored (index into the stage-1 levels). Defaults
            to -1, the coarsest (stride-32) level, as in the released code.
        init_cfg (dict, optional): Initialisation config.
    """

    #: Whether stage 1 must run the decode head and pass its logits (``seg_logits``).
    needs_seg_logits: bool = False

    def __init__(self, vis_channels: int, text_channels: int, in_index: int = -1,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('vis_channels', vis_channels), ('text_channels', text_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f'{type(self).__name__}: {name} must be a positive int, '
                                 f'got {value!r}.')
        if not isinstance(in_index, int) or isinstance(in_index, bool):
            raise ValueError(f'{type(self).__name__}: in_index must be an int, got '
                             f'{in_index!r}.')
        self.vis_channels = vis_channels
        self.text_channels = text_channels
        self.in_index = in_index

    @property
    def feat_indices(self) -> Tuple[int, ...]:
        """tuple[int]: Every feature level the scorer reads (stage 1 computes no more)."""
        return (self.in_index, )

    def _transform_inputs(self, feats: Sequence[Tensor]) -> Tensor:
        """The scored level ``feats[in_index]``.

        Raises:
            ValueError: If ``feats`` is one tensor, or stage 1 has no such level.
        """
        if isinstance(feats, Tensor):
            raise ValueError(f'{type(self).__name__}: feats must be the sequence of stage-1 '
                             f'feature levels, got one tensor of shape {tuple(feats.shape)}.')
        try:
            feat = feats[self.in_index]
        except IndexError:
            raise ValueError(f'{type(self).__name__}: in_index={self.in_index}, but stage 1 '
                             f'has {len(feats)} feature levels.') from None
        if feat is None:
            raise ValueError(f'{type(self).__name__}: stage 1 did not compute level '
                             f'{self.in_index}; it computes the levels in feat_indices.')
        return feat

    def forward(self, feats: Sequence[Tensor], text_feat: Tensor, text_mask: Tensor,
                data_samples: OptSampleList = None,
                image_size: Optional[Tuple[int, int]] = None,
                seg_logits: Optional[Tensor] = None) -> Tensor:
        """The scorer's raw output (the score map, or logits for a trainable scorer).

        Args:
            feats (Sequence[Tensor]): The stage-1 feature levels, each ``[B, C_i, h_i, w_i]``
                (``None`` at levels the scorer does not read).
            text_feat (Tensor): ``[B, N, C_t]`` float32.
            text_mask (Tensor): ``[B, N]``, True (or 1) for real tokens.
            data_samples (list[SegDataSample], optional): The batch's samples.
            image_size (tuple[int, int], optional): ``(H, W)`` of the padded images.
            seg_logits (Tensor, optional): Stage-1 decoder logits (``needs_seg_logits``).

        Returns:
            Tensor: float32 ``[B, 1, h', w']`` (usually the feature grid).
        """
        raise NotImplementedError

    def scores(self, out: Tensor) -> Tensor:
        """The score map ``[B, 1, h, w]`` the filter thresholds, from :meth:`forward`'s output.

        Defaults to the output itself.
        """
        return out

    def loss_by_feat(self, out: Tensor, data_samples: OptSampleList = None,
                     image_size: Optional[Tuple[int, int]] = None) -> Dict[str, Tensor]:
        """Loss terms of a trainable scorer from :meth:`forward`'s output; none by default."""
        return dict()

    def loss(self, feats: Sequence[Tensor], text_feat: Tensor, text_mask: Tensor,
             data_samples: OptSampleList = None,
             image_size: Optional[Tuple[int, int]] = None,
             seg_logits: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """:meth:`forward`, then :meth:`loss_by_feat`."""
        out = self.forward(feats, text_feat, text_mask, data_samples, image_size, seg_logits)
        return self.loss_by_feat(out, data_samples, image_size)

    def check_inputs(self, feats: Sequence[Tensor], text_feat: Tensor,
                     text_mask: Optional[Tensor]) -> None:
        """Clear errors for features of the wrong rank, width or batch size."""
        name = type(self).__name__
        vis_feat = self._transform_inputs(feats)
        if vis_feat.dim() != 4 or vis_feat.shape[1] != self.vis_channels:
            raise ValueError(f'{name}: feature level in_index={self.in_index} must be '
                             f'[B, vis_channels={self.vis_channels}, h, w], got shape '
                             f'{tuple(vis_feat.shape)}; set vis_channels to the channels of '
                             f'the level the scorer reads.')
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
