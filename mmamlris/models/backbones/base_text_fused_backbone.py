# Copyright (c) mmamlris contributors. All rights reserved.
"""The interface of a visual backbone that reads the expression (early fusion)."""
from abc import abstractmethod
from typing import Tuple

from mmengine.model import BaseModule
from torch import Tensor

__all__ = ['BaseTextFusedBackbone']


class BaseTextFusedBackbone(BaseModule):
    """Base class of early-fusion backbones: the image and the expression in, levels out.

    LAVT, ReLA, DETRIS and CGFormer fuse the expression into the visual backbone (e.g. a
    pixel-word attention and a language gate after each stage). :class:`AMLSegmentor` reads
    the class attribute :attr:`takes_text` (any backbone may set it; mmseg's backbones do not
    have it, so they are called with the image alone) and then:

    .. code:: text

     _encode(): text_encoder(ids, mask) -> backbone(img, text_feats, text_mask) [-> neck]

    AML's stage 1 runs the same path without gradient on the clean images, so a scorer sees
    the text-fused features; stage 2 runs it on the masked images with the same text
    features (encoded once per step, with gradient). The text of such a model does not depend
    on the image, so its decode head cannot have visual text prompts (CARIS's); the segmentor
    refuses that combination.

    Subclasses implement :meth:`forward`.
    """

    #: Read by :class:`AMLSegmentor`: call ``backbone(img, text_feats, text_mask)``.
    takes_text: bool = True

    @abstractmethod
    def forward(self, inputs: Tensor, text_feats: Tensor,
                text_mask: Tensor) -> Tuple[Tensor, ...]:
        """Fused visual features.

        Args:
            inputs (Tensor): Images ``[B, 3, H, W]``.
            text_feats (Tensor): Token features ``[B, N, C_t]``.
            text_mask (Tensor): ``[B, N]`` bool, True for real tokens.

        Returns:
            tuple[Tensor]: Feature levels ``[B, C_i, H_i, W_i]``, fine to coarse.
        """
