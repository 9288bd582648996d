# Copyright (c) mmamlris contributors. All rights reserved.
"""The stage-1 decoder's own foreground probability as the alignment score."""
from typing import Optional, Sequence, Tuple

from mmseg.utils import OptSampleList
from torch import Tensor

from mmamlris.registry import MODELS
from .base_scorer import BaseAlignmentScorer
from .patch_max_scorer import check_score_norm, score_normed

__all__ = ['DecoderScorer']


@MODELS.register_module()
class DecoderScorer(BaseAlignmentScorer):
    """Score each location by how likely the model itself finds the referred object there.

    With this scorer, stage 1 also runs the decode head on the clean images, without gradient
    (:class:`AMLSegmentor` reads :attr:`needs_seg_logits`), and the score map is the
    foreground probability of its logits: ``softmax(logits)[:, 1]`` for two channels,
    ``sigmoid`` for one, at the decoder's output resolution. It costs one decoder forward
    without gradient per step on top of PatchMax's stage 1. The features are not used.

    A decoder that is sure of itself gives probabilities near 0 on most of the image, all
    below any ``tau``: every cell would be weak and the mask uniform. ``score_norm='minmax'``
    (default) rescales each image's map to ``[0, 1]`` first, as the other scorers do, so that
    ``tau`` selects the cells the decoder finds least likely *in this image*.

    Args:
        vis_channels (int): ``C_v`` of the visual features (checked, not used).
        text_channels (int): ``C_t`` of the token features (checked, not used).
        in_index (int): The feature level checked (not used). Defaults to -1.
        score_norm (str): ``'minmax'`` or ``'none'`` (the raw probabilities).
        init_cfg (dict, optional): Unused (no parameters).
    """

    #: Stage 1 must give this scorer the decode head's logits (``seg_logits``).
    needs_seg_logits = True

    def __init__(self, vis_channels: int, text_channels: int, in_index: int = -1,
                 score_norm: str = 'minmax', init_cfg=None) -> None:
        super().__init__(vis_channels, text_channels, in_index, init_cfg=init_cfg)
        self.score_norm = check_score_norm('DecoderScorer', score_norm)

    def forward(self, feats: Sequence[Tensor], text_feat: Tensor, text_mask: Tensor,
                data_samples: OptSampleList = None,
                image_size: Optional[Tuple[int, int]] = None,
                seg_logits: Optional[Tensor] = None) -> Tensor:
        """Foreground probability ``[B, 1, h', w']`` of the stage-1 logits (min-max
        rescaled per image with ``score_norm='minmax'``)."""
        if seg_logits is None:
            raise ValueError('DecoderScorer needs the stage-1 decoder logits (seg_logits); '
                             'AMLSegmentor computes them when the scorer asks for them.')
        logits = seg_logits.float()
        prob = logits.softmax(dim=1)[:, 1:2] if logits.shape[1] > 1 else logits.sigmoid()
        return score_normed(prob, self.score_norm)
