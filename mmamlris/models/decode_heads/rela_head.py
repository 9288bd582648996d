# Copyright (c) mmamlris contributors. All rights reserved.
"""ReLA's head (GRES, CVPR'23): a deformable pixel decoder and region-language queries."""
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmdet.models.layers import MSDeformAttnPixelDecoder
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType
from torch import Tensor

from mmamlris.registry import MODELS
from ..layers import RegionLanguageDecoder, ReLAOutputs
from .base_ris_head import BaseRISDecodeHead

__all__ = ['ReLAHead']


@MODELS.register_module()
class ReLAHead(BaseRISDecodeHead):
    """ReLA's referring head for gRefCOCO: masks, a region minimap and "no target".

    .. code:: text

     mask_feats, levels = pixel_decoder(feats)        # mmdet MSDeformAttnPixelDecoder:
                                                      #   [B, C, H/4, W/4], 3 maps coarse->fine
     masks, minimap, no_target = decoder(levels, mask_feats, words, mask)  # RegionLanguageDecoder

    Losses, as ReLA's criterion computes them (each reported on its own; their weighted sum
    is ReLA's single ``loss_mask``), all cross-entropies with class weights ``[0.9, 1.1]``:

    - ``loss_mask``: the two-channel ``masks`` upsampled bilinearly (``align_corners=False``)
      to the GT, against the merged GT of all targets;
    - ``loss_minimap`` (x ``minimap_weight``): each region's logits against the GT resized
      bilinearly to ``minimap_size`` x ``minimap_size`` and **truncated to an integer** (a
      cell counts as target only where the resized GT is exactly 1, as in the official code);
    - ``loss_no_target`` (x ``no_target_weight``): ``no_target`` against the ``no_target``
      metainfo.

    All three are multiplied by ``loss_weight`` (ReLA's ``MASK_WEIGHT``, 5). At test time the
    mask is emptied where ``no_target`` says "no target" (argmax), which is how
    :class:`GRESMetric` reads a no-target prediction.

    Args:
        pixel_decoder (dict): Arguments of mmdet's ``MSDeformAttnPixelDecoder`` (``strides``,
            ``num_outs``, ``encoder`` ...; ``in_channels`` is this head's, ``feat_channels``
            and ``out_channels`` default to ``channels``).
        decoder (dict): :class:`RegionLanguageDecoder` arguments (``in_channels`` and
            ``mask_channels`` default to the pixel decoder's widths, ``text_channels`` to
            this head's).
        minimap_size (int): Side of the GT minimap. Defaults to 10.
        class_weight (Sequence[float]): CE weights of (background, object), also used for
            the minimap and no-target terms. Defaults to (0.9, 1.1).
        minimap_weight (float): Defaults to 0.1.
        no_target_weight (float): Defaults to 0.1.
        loss_weight (float): Defaults to 5.0.
        **kwargs: :class:`BaseRISDecodeHead` arguments (``in_channels``, ``channels``,
            ``text_channels`` ...); ``num_classes=2``, ``out_channels=2``.
    """

    def __init__(self,
                 pixel_decoder: ConfigType,
                 decoder: ConfigType = dict(),
                 minimap_size: int = 10,
                 class_weight: Sequence[float] = (0.9, 1.1),
                 minimap_weight: float = 0.1,
                 no_target_weight: float = 0.1,
                 loss_weight: float = 5.0,
                 **kwargs) -> None:
        kwargs.setdefault('input_transform', 'multiple_select')
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('out_channels', 2)
        kwargs.setdefault('dropout_ratio', 0.0)
        kwargs.setdefault('init_cfg', None)  # mmseg's default initialises conv_seg, not built
        super().__init__(**kwargs)
        del self.conv_seg  # the masks come from the queries: every parameter is used
        pixel_decoder = dict(pixel_decoder, in_channels=self.in_channels)
        pixel_decoder.setdefault('feat_channels', self.channels)
        pixel_decoder.setdefault('out_channels', self.channels)
        # mmdet reads its nested configs by attribute
        self.pixel_decoder = MSDeformAttnPixelDecoder(**ConfigDict(pixel_decoder))
        decoder = dict(decoder)
        decoder.setdefault('in_channels', pixel_decoder['feat_channels'])
        decoder.setdefault('channels', self.channels)
        decoder.setdefault('mask_channels', pixel_decoder['out_channels'])
        if self.text_channels is not None:
            decoder.setdefault('text_channels', self.text_channels)
        self.decoder = RegionLanguageDecoder(**decoder)
        num_queries = self.decoder.query_feat.num_embeddings
        if num_queries != minimap_size**2:
            raise ValueError(f'ReLAHead: the minimap has one query per cell, so num_queries '
                             f'({num_queries}) must be minimap_size**2 ({minimap_size**2}).')
        self.minimap_size = minimap_size
        self.register_buffer('class_weight', torch.tensor(class_weight, dtype=torch.float32),
                             persistent=False)
        self.minimap_weight = minimap_weight
        self.no_target_weight = no_target_weight
        self.loss_weight = loss_weight

    def cls_seg(self, feat: Tensor) -> Tensor:
        raise NotImplementedError('ReLAHead has no conv_seg; its masks come from the queries.')

    def forward_all(self, inputs: Sequence[Tensor], text_feats: Tensor,
                    text_mask: Tensor) -> ReLAOutputs:
        """Masks ``[B, 2, H/4, W/4]``, minimap ``[B, Q, 2]``, no-target logits ``[B, 2]``."""
        feats = self._transform_inputs(inputs)
        mask_feats, levels = self.pixel_decoder(feats)
        return self.decoder(levels, mask_feats, text_feats, text_mask)

    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Tensor) -> Tensor:
        """The two-channel mask logits ``[B, 2, H/4, W/4]``."""
        return self.forward_all(inputs, text_feats, text_mask).masks

    def loss(self, inputs: Sequence[Tensor], text_feats: Tensor, text_mask: Tensor,
             batch_data_samples: List[SegDataSample], train_cfg: ConfigType
             ) -> Dict[str, Tensor]:
        """The three ReLA terms (see the class docstring), ``decode.``-prefixed by the
        segmentor."""
        outputs = self.forward_all(inputs, text_feats, text_mask)
        return self.loss_by_outputs(outputs, batch_data_samples)

    def loss_by_outputs(self, outputs: ReLAOutputs,
                        batch_data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        """ReLA's losses of already computed outputs."""
        gt = torch.stack([s.gt_sem_seg.data for s in batch_data_samples])  # [B, 1, H, W]
        flags = [s.metainfo.get('no_target') for s in batch_data_samples]
        if any(f is None for f in flags):
            raise ValueError('ReLAHead needs the no_target metainfo of every training sample '
                             '(GRefCOCODataset sets it; PackRISInputs packs it).')
        weight = self.class_weight.to(outputs.masks.dtype)
        masks = F.interpolate(outputs.masks, gt.shape[-2:], mode='bilinear',
                              align_corners=False)
        target = gt[:, 0].long()
        loss_mask = F.cross_entropy(masks, target, weight=weight, ignore_index=255)
        # the GT minimap: padding (255) counts as background, fractions truncate to 0
        object_gt = (gt == 1).to(outputs.masks.dtype)
        minimap_gt = F.interpolate(object_gt, (self.minimap_size, self.minimap_size),
                                   mode='bilinear', align_corners=False).flatten(1).long()
        loss_minimap = F.cross_entropy(outputs.minimap.permute(0, 2, 1), minimap_gt,
                                       weight=weight)
        no_target = torch.tensor([bool(f) for f in flags], dtype=torch.long,
                                 device=masks.device)
        loss_no_target = F.cross_entropy(outputs.no_target, no_target, weight=weight)
        return dict(
            loss_mask=loss_mask * self.loss_weight,
            loss_minimap=loss_minimap * self.minimap_weight * self.loss_weight,
            loss_no_target=loss_no_target * self.no_target_weight * self.loss_weight)

    def predict(self, inputs: Sequence[Tensor], text_feats: Tensor, text_mask: Tensor,
                batch_img_metas: List[dict], test_cfg: ConfigType) -> Tensor:
        """Mask logits at the (padded) input size, emptied where "no target" wins."""
        outputs = self.forward_all(inputs, text_feats, text_mask)
        empty = outputs.no_target.argmax(dim=1).bool()
        return self.predict_by_feat(self._emptied(outputs.masks, empty), batch_img_metas)
