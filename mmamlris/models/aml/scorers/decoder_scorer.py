# Copyright (c) mmamlris contributors. All rights reserved.
"""The stage-1 decoder's own foreground probability as the alignment score."""
from typing import Optional, Tuple

from mmseg.utils import OptSampleList
from torch import Tensor

from mmamlris.registry import MODELS
from .base_scorer import BaseAlignmentScorer

__all__ = ['DecoderScorer']


@MODELS.register_module()
class DecoderScorer(BaseAlignmentScorer):
    """Score each location by how likely the model itself finds the referred object there.

    With this scorer, stage 1 also runs the decode head on the clean images, without gradient
    (:class:`AMLSegmentor` reads :attr:`needs_seg_logits`), and the score map is the
    foreground probability of its logits: ``softmax(logits)[:, 1]`` for two channels,
    ``sigmoid`` for one, at the decoder's output resolution. It costs one decoder forward
    without gradient per step on top of PatchMax's stage 1. The features are not used.

    Args:
        vis_channels (int): ``C_v`` of the visual features (checked, not used).
        text_channels (int): ``C_t`` of the token features (checked, not used).
        init_cfg (dict, optional): Unused (no parameters).
    """

    #: Stage 1 must give this scorer the decode head's logits (``seg_logits``).
    needs_seg_logits = True

    def forward(self, vis_feat: Tensor, text_feat: Tensor, text_mask: Tensor,
                data_samples: OptSampleList = None,
                image_size: Optional[Tuple[int, int]] = None,
                seg_logits: Optional[Tensor] = None, **kwargs) -> Tensor:
        """Foreground probability ``[B, 1, h', w']`` of the stage-1 logits."""
        if seg_logits is None:
            raise ValueError('DecoderScorer needs the stage-1 decoder logits (seg_logits); '
                             'AMLSegmentor computes them when the scorer asks for them.')
        logits = seg_logits.float()
        if logits.shape[1] > 1:
            return logits.softmax(dim=1)[:, 1:2]
        return logits.sigmoid()
