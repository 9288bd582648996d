# Copyright (c) mmamlris contributors. All rights reserved.
"""LAVT's language-aware Swin: mmseg's Swin stages with a pixel-word fusion after each."""
from typing import Sequence, Tuple

from mmseg.utils import ConfigType
from torch import Tensor, nn

from mmamlris.registry import MODELS
from ..layers import PixelWordFusion
from .base_text_fused_backbone import BaseTextFusedBackbone

__all__ = ['LAVTSwinTransformer']


@MODELS.register_module()
class LAVTSwinTransformer(BaseTextFusedBackbone):
    """The backbone of LAVT: Swin with pixel-word attention and a language gate per stage.

    mmseg's :class:`SwinTransformer` (``swin``, not forked) runs its stages; after the blocks
    of stage ``i`` and before its patch merging, :class:`PixelWordFusion` ``fusions[i]``
    fuses the expression in:

    .. code:: text

     x = patch_embed(img)
     for i, stage in swin.stages:
         x = stage.blocks(x)
         x, fused = fusions[i](x, text_feats, text_mask)   # gated sum, PWAM output
         out_i = swin.norm{i}(fused)                       # what the decoder reads
         x = stage.downsample(x)                           # all stages but the last

    As in the official code, the level handed on is the normalised PWAM output, not the
    gated sum that continues through the backbone. The last stage has no gate (nothing
    reads its gated sum; the official LAVT computes one anyway and its converter drops it),
    so every parameter receives a gradient and DDP needs no ``find_unused_parameters``.

    Args:
        swin (dict): Config of mmseg's ``SwinTransformer`` (its ``out_indices`` must be all
            stages).
        text_channels (int): ``C_t`` of the words. Defaults to 768 (BERT-base).
        fusion_heads (Sequence[int]): Heads of each stage's pixel-word attention. Defaults
            to one per stage (the official setting).
        fusion_dropout (float): Dropout inside the fusion. Defaults to 0.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 swin: ConfigType,
                 text_channels: int = 768,
                 fusion_heads: Sequence[int] = (1, 1, 1, 1),
                 fusion_dropout: float = 0.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.swin = MODELS.build(dict(swin, type=swin.get('type', 'SwinTransformer')))
        num_stages = len(self.swin.stages)
        if tuple(self.swin.out_indices) != tuple(range(num_stages)):
            raise ValueError(f'LAVTSwinTransformer: swin.out_indices must be every stage '
                             f'{tuple(range(num_stages))}, got {self.swin.out_indices}.')
        if len(fusion_heads) != num_stages:
            raise ValueError(f'LAVTSwinTransformer: fusion_heads needs one entry per stage '
                             f'({num_stages}), got {list(fusion_heads)}.')
        # the last stage's gated sum would feed no later stage: no gate there
        self.fusions = nn.ModuleList(
            PixelWordFusion(self.swin.num_features[i], text_channels, heads, fusion_dropout,
                            with_gate=i < num_stages - 1)
            for i, heads in enumerate(fusion_heads))

    def forward(self, inputs: Tensor, text_feats: Tensor,
                text_mask: Tensor) -> Tuple[Tensor, ...]:
        """Fused levels ``[B, C_i, H_i, W_i]`` at strides 4, 8, 16, 32."""
        swin = self.swin
        x, hw_shape = swin.patch_embed(inputs)
        if swin.use_abs_pos_embed:
            x = x + swin.absolute_pos_embed
        x = swin.drop_after_pos(x)
        outs = []
        for i, (stage, fusion) in enumerate(zip(swin.stages, self.fusions)):
            for block in stage.blocks:
                x = block(x, hw_shape)
            x, fused = fusion(x, text_feats, text_mask)
            out = getattr(swin, f'norm{i}')(fused)
            outs.append(out.view(-1, *hw_shape, swin.num_features[i]).permute(0, 3, 1, 2)
                        .contiguous())
            if stage.downsample is not None:
                x, hw_shape = stage.downsample(x, hw_shape)
        return tuple(outs)
