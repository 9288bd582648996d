# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRIS's head (CRIS's): sentence-gated neck, vision-language decoder, dynamic-conv projector."""
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmseg.utils import SampleList
from torch import Tensor, nn

from mmamlris.registry import MODELS
from ..layers import DynamicConvProjector, SentenceGatedNeck, VLTransformerDecoder
from .base_ris_head import BaseRISDecodeHead

__all__ = ['DETRISHead']


@MODELS.register_module()
class DETRISHead(BaseRISDecodeHead):
    """DETRIS's head: one logit map at 4x the resolution of the backbone's maps.

    .. code:: text

        s = text_projection(words[<eot>])               # the CLIP sentence feature [B, C_s]
        f = neck(levels, s)                             # SentenceGatedNeck, [B, C, h, w]
        f = decoder(f, words, mask)                     # VLTransformerDecoder
        logits = projector(f, s)                        # DynamicConvProjector, [B, 1, 4h, 4w]

    The sentence is CLIP's: the ``<eot>`` word (the last real token) through CLIP's text
    projection, of which this head keeps a frozen copy (``text_projection``, filled from the
    CLIP checkpoint by the converter). The loss is DETRIS's: binary cross-entropy of the
    logits against the GT **downsampled (nearest) to the logits' size** (not the logits
    upsampled), pixels labelled ``ignore_index`` left out. At test time mmseg's
    postprocessing thresholds ``sigmoid`` at ``threshold`` (DETRIS: 0.35).

    Args:
        sentence_channels (int): CLIP's projection width ``C_s``. Defaults to 512.
        num_heads (int): Heads of the neck and the decoder. Defaults to 8.
        num_layers (int): Decoder layers. Defaults to 3.
        ffn_channels (int): Decoder FFN width. Defaults to 512.
        dropout (float): Decoder dropout. Defaults to 0.1.
        kernel_size (int): The projector's dynamic kernel. Defaults to 3.
        strides (Sequence[int]): The neck's per-level strides. Defaults to ``(1, 1, 1)``.
        loss_weight (float): Defaults to 1.0.
        **kwargs: :class:`BaseRISDecodeHead` arguments: ``in_channels`` (three levels),
            ``channels`` (neck / decoder width, which is also the words' width),
            ``text_channels`` (the words' width), ``threshold`` (0.35 for DETRIS) ...
    """

    def __init__(self,
                 sentence_channels: int = 512,
                 num_heads: int = 8,
                 num_layers: int = 3,
                 ffn_channels: int = 512,
                 dropout: float = 0.1,
                 kernel_size: int = 3,
                 strides: Sequence[int] = (1, 1, 1),
                 loss_weight: float = 1.0,
                 **kwargs) -> None:
        kwargs.setdefault('input_transform', 'multiple_select')
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('out_channels', 1)
        kwargs.setdefault('threshold', 0.35)
        kwargs.setdefault('init_cfg', None)  # no conv_seg to initialise
        # mmseg builds a loss_decode; this head computes DETRIS's BCE itself and never reads it
        kwargs.setdefault('loss_decode', dict(type='CrossEntropyLoss', use_sigmoid=True,
                                              avg_non_ignore=True))
        super().__init__(**kwargs)
        del self.conv_seg  # the projector makes the logits
        name = type(self).__name__
        if len(self.in_channels) != 3:
            raise ValueError(f'{name} reads three levels, got in_channels={self.in_channels}.')
        if self.text_channels != self.channels:
            raise ValueError(f'{name}: the decoder attends to the words in its own width, so '
                             f'text_channels ({self.text_channels}) must equal channels '
                             f'({self.channels}).')
        self.loss_weight = float(loss_weight)
        self.text_projection = nn.Linear(self.text_channels, sentence_channels, bias=False)
        self.text_projection.requires_grad_(False)  # CLIP's, frozen as the tower
        self.neck = SentenceGatedNeck(self.in_channels, self.channels, sentence_channels,
                                      num_heads, strides)
        self.decoder = VLTransformerDecoder(num_layers, self.channels, num_heads, ffn_channels,
                                            dropout)
        self.projector = DynamicConvProjector(self.channels, sentence_channels, kernel_size)

    def sentence(self, text_feats: Tensor, text_mask: Tensor) -> Tensor:
        """``[B, C_s]``: the last real token (``<eot>``) through the text projection."""
        last = text_mask.long().sum(1).clamp(min=1) - 1
        eot = text_feats[torch.arange(text_feats.shape[0], device=text_feats.device), last]
        return self.text_projection(eot)

    def decode(self, levels: Sequence[Tensor], text_feats: Tensor, text_mask: Tensor,
               sentence: Tensor) -> Tensor:
        """Neck, decoder and projector for a given sentence feature: ``[B, 1, 4h, 4w]``."""
        fused = self.decoder(self.neck(levels, sentence), text_feats, text_mask)
        return self.projector(fused, sentence)

    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Tensor) -> Tensor:
        """Logits ``[B, 1, 4h, 4w]`` from three ``[B, C_i, h, w]`` levels and the words."""
        levels = self._transform_inputs(inputs)
        return self.decode(levels, text_feats, text_mask,
                           self.sentence(text_feats, text_mask))

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """``loss_bce`` against the GT resized (nearest) to the logits, and ``acc_seg``.

        The target is the soft GT (``gt_soft_seg``, from ``LetterBox``) when every sample
        has one, as DETRIS trains, else the 0/1 ``gt_sem_seg``; pixels whose ``gt_sem_seg`` is
        ``ignore_index`` are left out either way.
        """
        size = seg_logits.shape[-2:]
        gt = self._resized_gt(batch_data_samples, 'gt_sem_seg', size)
        valid = gt != self.ignore_index
        target = (gt > 0).float()
        if all('gt_soft_seg' in s for s in batch_data_samples):
            target = self._resized_gt(batch_data_samples, 'gt_soft_seg', size)
        logits = seg_logits.float()[valid]
        target = target[valid]
        loss = F.binary_cross_entropy_with_logits(logits, target) if logits.numel() else \
            seg_logits.sum() * 0.0
        accuracy = ((logits.sigmoid() > self.threshold) == (target > 0.5)).float().mean() \
            if logits.numel() else seg_logits.new_zeros(())
        return dict(loss_bce=self.loss_weight * loss, acc_seg=100.0 * accuracy.detach())

    @staticmethod
    def _resized_gt(batch_data_samples: SampleList, field: str, size) -> Tensor:
        """``[B, 1, h, w]`` float: a GT field of every sample, resized (nearest) to ``size``."""
        gt = torch.stack([getattr(s, field).data for s in batch_data_samples]).float()
        return F.interpolate(gt, size=size, mode='nearest')

    def predict_by_feat(self, seg_logits: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Logits at the input size, resized as DETRIS evaluates: the probabilities
        ``sigmoid(logits)`` bicubically (``align_corners=True``), returned as logits again
        (``logit`` of the probabilities clamped to ``[1e-6, 1 - 1e-6]``: bicubic overshoots
        ``[0, 1]``) so that every later step reads logits as for other heads."""
        size = batch_img_metas[0].get('pad_shape', batch_img_metas[0]['img_shape'])[:2]
        probs = F.interpolate(seg_logits.float().sigmoid(), size=size, mode='bicubic',
                              align_corners=True)
        return torch.logit(probs.clamp(1e-6, 1 - 1e-6))
