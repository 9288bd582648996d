# Copyright (c) mmamlris contributors. All rights reserved.
"""A light early-fusion backbone: mmseg's MobileNetV2 with LAVT's fusion after its outputs."""
from typing import Sequence, Tuple

from mmseg.utils import ConfigType
from torch import Tensor, nn

from mmamlris.registry import MODELS
from ..layers import PixelWordFusion
from .base_text_fused_backbone import BaseTextFusedBackbone

__all__ = ['LAVTMobileNetV2']


@MODELS.register_module()
class LAVTMobileNetV2(BaseTextFusedBackbone):
    """MobileNetV2 that reads the expression the way LAVT's Swin does (CPU-sized LAVT).

    mmseg's :class:`MobileNetV2` (``mobilenet``, not forked) runs its layers; after each
    layer listed in its ``out_indices``, a :class:`PixelWordFusion` fuses the words in:

    .. code:: text

     x = conv1(img)
     for j, layer in mobilenet.layers:
         x = layer(x)                                        # [B, C_j, H_j, W_j]
         if j in out_indices (the i-th):
             x, fused = fusions[i](x, text_feats, text_mask)  # on [B, H_j W_j, C_j]
             out_i = fused                                    # what the decoder reads

    As in LAVT, the gated sum continues through the backbone and the decoder reads the
    pixel-word attention output. MobileNetV2 has no per-stage output norm, so the level is
    ``fused`` itself.

    Args:
        mobilenet (dict): Config of mmseg's ``MobileNetV2``; its ``out_indices`` are the
            fused levels (e.g. ``(1, 2, 4, 6)``: strides 4, 8, 16, 32).
        text_channels (int): ``C_t`` of the words. Defaults to 384 (MiniLM-L6).
        fusion_heads (Sequence[int]): Heads of each level's pixel-word attention. Defaults
            to one per level (LAVT's setting).
        fusion_dropout (float): Dropout inside the fusion. Defaults to 0.
        init_cfg (dict, optional): Initialisation config (the image weights belong in
            ``mobilenet.init_cfg``; the fusions keep PyTorch's default initialisation).
    """

    def __init__(self,
                 mobilenet: ConfigType,
                 text_channels: int = 384,
                 fusion_heads: Sequence[int] = (1, 1, 1, 1),
                 fusion_dropout: float = 0.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.mobilenet = MODELS.build(dict(mobilenet, type=mobilenet.get('type', 'MobileNetV2')))
        self.out_indices = tuple(self.mobilenet.out_indices)
        if len(fusion_heads) != len(self.out_indices):
            raise ValueError(f'LAVTMobileNetV2: fusion_heads needs one entry per output layer '
                             f'{self.out_indices}, got {list(fusion_heads)}.')
        widths = [self._layer_width(j) for j in self.out_indices]
        # the last level's gated sum would feed no later layer that is read: no gate there
        self.fusions = nn.ModuleList(
            PixelWordFusion(width, text_channels, heads, fusion_dropout,
                            with_gate=i < len(widths) - 1)
            for i, (width, heads) in enumerate(zip(widths, fusion_heads)))

    def _layer_width(self, index: int) -> int:
        """Output channels of MobileNetV2 layer ``index`` (0-based in ``mobilenet.layers``)."""
        layer = getattr(self.mobilenet, self.mobilenet.layers[index])
        return layer[-1].conv[-1].out_channels

    def forward(self, inputs: Tensor, text_feats: Tensor,
                text_mask: Tensor) -> Tuple[Tensor, ...]:
        """Fused levels ``[B, C_i, H_i, W_i]``, one per ``mobilenet.out_indices``."""
        net = self.mobilenet
        x = net.conv1(inputs)
        outs = []
        fusions = iter(self.fusions)
        for j, name in enumerate(net.layers):
            x = getattr(net, name)(x)
            if j in self.out_indices:
                batch, channels, height, width = x.shape
                tokens = x.flatten(2).transpose(1, 2)  # [B, HW, C]
                tokens, fused = next(fusions)(tokens, text_feats, text_mask)
                x = tokens.transpose(1, 2).reshape(batch, channels, height, width)
                outs.append(fused.transpose(1, 2).reshape(batch, channels, height, width))
        return tuple(outs)
