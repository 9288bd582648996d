# Copyright (c) mmamlris contributors. All rights reserved.
"""The interface every referring-segmentation decoder of mmamlris satisfies."""
from abc import abstractmethod
from typing import Dict, List, Optional, Sequence

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.utils import ConfigType, SampleList
from torch import Tensor


class BaseRISDecodeHead(BaseDecodeHead):
    """Base class of RIS decoders: visual features + expression -> mask logits.

    It is mmseg's :class:`BaseDecodeHead` with the text of the expression added to every call,
    so the loss (``loss_decode``, ``class_weight``, ``ignore_index``, ``align_corners``, the
    ``acc_seg`` log) and the resizing in ``predict_by_feat`` are mmseg's own. A subclass
    implements :meth:`forward` and, when its text path needs visual tokens (CARIS's conditional
    prompts), :meth:`text_prompts`.

    Call graph, as driven by :class:`AMLSegmentor`::

        feats = backbone(img)                           # tuple of [B, C_i, H_i, W_i]
        prompts = head.text_prompts(feats)              # None or [B, P, C_t]
        text_feats, text_mask = text_encoder(ids, mask, prompts)
        head.loss(feats, text_feats, text_mask, data_samples, train_cfg)
            -> head(...) -> logits [B, out_channels, h, w]   # forward hooks see the logits
            -> head.loss_by_feat(logits, data_samples)  # mmseg: resize to GT, loss_decode
        head.predict(feats, text_feats, text_mask, img_metas, test_cfg)
            -> head.forward(...) -> head.predict_by_feat(...)  # resize to the input size

    Binary masks are either two channels (``num_classes=2, out_channels=2``: background and
    object, softmax CE, argmax at test time) or one channel (``num_classes=2, out_channels=1``,
    sigmoid loss and ``threshold``), as in mmseg.
    """

    def text_prompts(self, feats: Sequence[Tensor]) -> Optional[Tensor]:
        """Extra tokens for the text encoder, computed from the visual features.

        Args:
            feats (Sequence[Tensor]): Multi-level visual features, each ``[B, C_i, H_i, W_i]``.

        Returns:
            Tensor | None: ``[B, P, C_t]`` tokens that the text encoder appends after its
            embedding layer (CARIS's conditional prompts), or ``None`` (the default) when the
            decoder does not condition the text on the image.
        """
        return None

    @abstractmethod
    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Tensor) -> Tensor:
        """Predict mask logits.

        Args:
            inputs (Sequence[Tensor]): Multi-level visual features, each ``[B, C_i, H_i, W_i]``.
            text_feats (Tensor): Token features ``[B, N, C_t]`` of the expression.
            text_mask (Tensor): ``[B, N]`` bool, True for real tokens, False for padding.

        Returns:
            Tensor: Logits ``[B, out_channels, h, w]`` at some fraction of the input size.
        """

    def loss(self, inputs: Sequence[Tensor], text_feats: Tensor, text_mask: Tensor,
             batch_data_samples: SampleList, train_cfg: ConfigType) -> Dict[str, Tensor]:
        """Forward and compute the losses against ``data_sample.gt_sem_seg``.

        Returns:
            dict[str, Tensor]: mmseg's ``loss_by_feat`` output (``loss_ce`` ..., ``acc_seg``).
        """
        seg_logits = self(inputs, text_feats, text_mask)  # through __call__: forward hooks see it
        return self.loss_by_feat(seg_logits, batch_data_samples)

    def predict(self, inputs: Sequence[Tensor], text_feats: Tensor, text_mask: Tensor,
                batch_img_metas: List[dict], test_cfg: ConfigType) -> Tensor:
        """Forward and resize the logits to the (padded) network input size.

        Returns:
            Tensor: Logits ``[B, out_channels, H_in, W_in]``.
        """
        seg_logits = self.forward(inputs, text_feats, text_mask)
        return self.predict_by_feat(seg_logits, batch_img_metas)
