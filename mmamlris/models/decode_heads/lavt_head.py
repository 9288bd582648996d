# Copyright (c) mmamlris contributors. All rights reserved.
"""LAVT's decoder: top-down fusion of the four language-aware levels."""
from typing import Sequence

import torch
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize
from mmseg.utils import ConfigType
from torch import Tensor, nn

from mmamlris.registry import MODELS
from .base_ris_head import BaseRISDecodeHead

__all__ = ['LAVTHead']


@MODELS.register_module()
class LAVTHead(BaseRISDecodeHead):
    """LAVT's simple decoder: the expression is already in the features, so it reads only them.

    From the coarsest level down, the running map is upsampled (bilinear,
    ``align_corners=True``) to the next level when it is smaller, concatenated with it and
    passed through two 3x3 ConvModules (conv without bias, BN, ReLU) of ``channels`` each;
    ``conv_seg`` (1x1) then gives the logits at stride 4::

        y = convs_3(cat(up(x4), x3)); y = convs_2(cat(up(y), x2)); y = convs_1(cat(up(y), x1))
        logits = conv_seg(y)                                        # [B, 2, H/4, W/4]

    With ``in_channels=[C, 2C, 4C, 8C]`` LAVT uses ``channels=4C`` (``8C / 2``). Set
    ``dropout_ratio=0`` and ``align_corners=True`` as LAVT does (the logits are upsampled to
    the input with ``align_corners=True`` for the loss and the prediction).

    Args:
        norm_cfg (dict): Norm of the ConvModules. Defaults to ``BN`` (LAVT converts it to
            SyncBN under DDP; set ``SyncBN`` in multi-GPU configs).
        **kwargs: :class:`BaseRISDecodeHead` arguments (``in_channels``, ``in_index``,
            ``channels``, ``num_classes``, ``loss_decode`` ...).
    """

    def __init__(self, norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 **kwargs) -> None:
        kwargs.setdefault('input_transform', 'multiple_select')
        super().__init__(norm_cfg=norm_cfg, **kwargs)
        if len(self.in_channels) != 4:
            raise ValueError(f'LAVTHead reads four levels, got in_channels={self.in_channels}.')
        self.fuse = nn.ModuleList()
        coarser = self.in_channels[3]
        for finer in reversed(self.in_channels[:3]):  # levels 3, 2, 1 (the finer one each)
            self.fuse.append(nn.Sequential(
                ConvModule(coarser + finer, self.channels, 3, padding=1, bias=False,
                           norm_cfg=self.norm_cfg, act_cfg=dict(type='ReLU')),
                ConvModule(self.channels, self.channels, 3, padding=1, bias=False,
                           norm_cfg=self.norm_cfg, act_cfg=dict(type='ReLU'))))
            coarser = self.channels

    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Tensor) -> Tensor:
        """Logits ``[B, out_channels, H/4, W/4]`` (the text is not read: it is in the levels)."""
        levels = self._transform_inputs(inputs)
        x = levels[3]
        for fuse, finer in zip(self.fuse, (levels[2], levels[1], levels[0])):
            if x.shape[-2] < finer.shape[-2] or x.shape[-1] < finer.shape[-1]:
                x = resize(x, size=finer.shape[-2:], mode='bilinear', align_corners=True)
            x = fuse(torch.cat([x, finer], dim=1))
        return self.cls_seg(x)
