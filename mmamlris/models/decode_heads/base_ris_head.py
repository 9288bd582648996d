# Copyright (c) mmamlris contributors. All rights reserved.
"""The interface every referring-segmentation decoder of mmamlris satisfies."""
from abc import abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple

import torch

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

    ``no_target_head`` (optional, off by default, so RefCOCO models are unchanged): a
    :class:`NoTargetHead` config for gRefCOCO. It is trained by its own ``loss_no_target``
    on the samples' ``no_target`` metainfo and, at test time, empties the mask of the
    expressions it predicts to refer to nothing.

    Args:
        *args: :class:`mmseg.models.decode_heads.BaseDecodeHead` arguments.
        text_channels (int, optional): ``C_t`` of the token features (needed by
            ``no_target_head``).
        no_target_head (dict, optional): ``NoTargetHead`` config (``text_channels`` is filled
            in). Defaults to None.
        **kwargs: Other ``BaseDecodeHead`` arguments.
    """

    def __init__(self, *args, text_channels: Optional[int] = None,
                 no_target_head: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.text_channels = text_channels
        if no_target_head is not None:
            if text_channels is None:
                raise ValueError(f'{type(self).__name__}: no_target_head needs text_channels '
                                 '(the width of the token features).')
            from mmamlris.registry import MODELS
            cfg = dict(type='NoTargetHead', text_channels=text_channels)
            cfg.update(no_target_head)
            self.no_target_head = MODELS.build(cfg)

    @property
    def with_no_target_head(self) -> bool:
        return getattr(self, 'no_target_head', None) is not None

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

    def text_prompt_levels(self) -> Tuple[int, ...]:
        """The input levels (indices into ``feats``) that :meth:`text_prompts` reads.

        AML's stage 1 computes the backbone only up to the levels it needs; a head whose
        prompts read the features must name their levels here. Defaults to none.
        """
        return ()

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
        losses = self.loss_by_feat(seg_logits, batch_data_samples)
        if self.with_no_target_head:
            flags = [s.metainfo.get('no_target') for s in batch_data_samples]
            if any(f is None for f in flags):
                raise ValueError('The no-target head needs the no_target metainfo of every '
                                 'training sample (GRefCOCODataset sets it; PackRISInputs packs '
                                 'it).')
            logit = self.no_target_head(seg_logits, text_feats, text_mask)
            losses.update(self.no_target_head.loss(logit, flags))
        return losses

    def predict(self, inputs: Sequence[Tensor], text_feats: Tensor, text_mask: Tensor,
                batch_img_metas: List[dict], test_cfg: ConfigType) -> Tensor:
        """Forward and resize the logits to the (padded) network input size.

        Returns:
            Tensor: Logits ``[B, out_channels, H_in, W_in]``.
        """
        seg_logits = self.forward(inputs, text_feats, text_mask)
        if self.with_no_target_head:
            empty = self.no_target_head.fires(
                self.no_target_head(seg_logits, text_feats, text_mask))
            seg_logits = self._emptied(seg_logits, empty)
        return self.predict_by_feat(seg_logits, batch_img_metas)

    @staticmethod
    def _emptied(seg_logits: Tensor, empty: Tensor) -> Tensor:
        """Logits whose mask is empty where ``empty`` ([B] bool) is set."""
        if not bool(empty.any()):
            return seg_logits
        out = seg_logits.clone()
        if out.shape[1] == 2:  # object below background everywhere
            out[empty, 1] = torch.minimum(out[empty, 1], out[empty, 0] - 1.0)
        else:
            out[empty] = torch.clamp(out[empty], max=-10.0)
        return out
