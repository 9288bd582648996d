# Copyright (c) mmamlris contributors. All rights reserved.
"""One layer of CARIS's vision-language deformable-attention encoder."""
from typing import Optional, Tuple

import torch
from mmcv.ops import MultiScaleDeformableAttention
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, trunc_normal_init
from torch import Tensor, nn

from .vl_multihead_attention import VLMultiheadAttention


def _ffn(embed_dims: int, ffn_channels: int, dropout: float) -> nn.Sequential:
    """``Linear -> ReLU -> Dropout -> Linear`` (no residual)."""
    return nn.Sequential(
        nn.Linear(embed_dims, ffn_channels), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(ffn_channels, embed_dims))


class VLDeformLayer(BaseModule):
    """A layer that updates language tokens and multi-scale visual tokens together.

    The language stream (words followed by any learned prompts) and the visual stream (the
    flattened multi-scale tokens) are updated in this order, each step followed by a
    LayerNorm (post-norm):

    a. vision -> language cross-attention: language queries, visual keys (with position
       encoding) and values; the update is scaled by a learnable per-channel ``gamma_v2l``;
    b. language self-attention (padding masked out);
    c. language FFN;
    d. language -> vision cross-attention: visual queries (with position encoding), language
       keys/values (padding masked out); the update is scaled by ``gamma_l2v``;
    e. multi-scale deformable self-attention over the visual tokens (mmcv's op, with its own
       residual), run in fp32 with autocast disabled because mmcv's CUDA kernel has no
       half-precision implementation;
    f. visual FFN.

    All steps except (e) add a residual before their LayerNorm. The attention modules of
    (a), (b) and (d) are :class:`VLMultiheadAttention` with inner width ``attn_embed_dims``.

    Args:
        embed_dims (int): Width of both streams. Defaults to 256.
        num_heads (int): Heads of every attention. Defaults to 8.
        num_levels (int): Feature levels of the deformable attention. Defaults to 3.
        num_points (int): Sampling points per head and level. Defaults to 4.
        attn_embed_dims (int): Inner width of the cross/self-attentions. Defaults to 1024.
        ffn_channels (int): Hidden width of both FFNs. Defaults to 1024.
        dropout (float): Dropout of the attentions and FFNs. Defaults to 0.
        im2col_step (int): Chunk size of mmcv's deformable-attention kernel (no effect on the
            result). Defaults to 64.
        gamma_init (float): Initial value of the per-channel cross-attention scales.
            Defaults to 1.
        clamp_value (float, optional): Attention-logit bound of :class:`VLMultiheadAttention`.
        init_cfg (dict, optional): mmengine init config. Defaults to None: every Linear gets a
            truncated normal (std 0.02) weight and zero bias, LayerNorms 1/0, and the
            deformable attention its own mmcv initialisation.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 num_levels: int = 3,
                 num_points: int = 4,
                 attn_embed_dims: int = 1024,
                 ffn_channels: int = 1024,
                 dropout: float = 0.0,
                 im2col_step: int = 64,
                 gamma_init: float = 1.0,
                 clamp_value: Optional[float] = 50000.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.embed_dims = embed_dims
        self.num_levels = num_levels

        def attention() -> VLMultiheadAttention:
            return VLMultiheadAttention(embed_dims, embed_dims, attn_embed_dims, num_heads,
                                        dropout=dropout, clamp_value=clamp_value)

        # language stream
        self.v2l_attn = attention()
        self.gamma_v2l = nn.Parameter(torch.full((embed_dims, ), float(gamma_init)))
        self.lang_self_attn = attention()
        self.lang_ffn = _ffn(embed_dims, ffn_channels, dropout)
        self.lang_norms = nn.ModuleList([nn.LayerNorm(embed_dims) for _ in range(3)])
        # visual stream
        self.l2v_attn = attention()
        self.gamma_l2v = nn.Parameter(torch.full((embed_dims, ), float(gamma_init)))
        self.vis_self_attn = MultiScaleDeformableAttention(
            embed_dims=embed_dims,
            num_heads=num_heads,
            num_levels=num_levels,
            num_points=num_points,
            im2col_step=im2col_step,
            dropout=dropout,
            batch_first=True)
        self.vis_ffn = _ffn(embed_dims, ffn_channels, dropout)
        self.vis_norms = nn.ModuleList([nn.LayerNorm(embed_dims) for _ in range(3)])
        self.dropout = nn.Dropout(dropout)
        self.init_weights()

    def init_weights(self) -> None:
        """Initialise as CARIS's layer does at construction (see the class docstring)."""
        if self.init_cfg:
            super().init_weights()
            return
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_init(module, std=0.02, bias=0.0)
            elif isinstance(module, nn.LayerNorm):
                constant_init(module, val=1.0, bias=0.0)
        self.vis_self_attn.init_weights()

    def forward(self, vis: Tensor, lang: Tensor, lang_padding_mask: Tensor, vis_pos: Tensor,
                reference_points: Tensor, spatial_shapes: Tensor,
                level_start_index: Tensor) -> Tuple[Tensor, Tensor]:
        """Update both streams.

        Args:
            vis (Tensor): Visual tokens ``[B, N_v, C]``, all levels concatenated.
            lang (Tensor): Language tokens ``[B, N_l, C]`` (words and prompts).
            lang_padding_mask (Tensor): ``[B, N_l]`` bool, True for padding tokens.
            vis_pos (Tensor): Position (+ level) encoding of the visual tokens ``[B, N_v, C]``.
            reference_points (Tensor): ``[B, N_v, num_levels, 2]`` normalised (x, y) of every
                visual token on every level.
            spatial_shapes (Tensor): ``[num_levels, 2]`` int64 ``(h, w)`` of each level.
            level_start_index (Tensor): ``[num_levels]`` int64 first token of each level.

        Returns:
            tuple[Tensor, Tensor]: The updated ``vis`` ``[B, N_v, C]`` and ``lang``
            ``[B, N_l, C]``.
        """
        vis_with_pos = vis + vis_pos
        # (a) vision -> language
        update = self.v2l_attn(lang, vis_with_pos, vis) * self.gamma_v2l
        lang = self.lang_norms[0](lang + self.dropout(update))
        # (b) language self-attention
        update = self.lang_self_attn(lang, lang, lang, key_padding_mask=lang_padding_mask)
        lang = self.lang_norms[1](lang + self.dropout(update))
        # (c) language FFN
        lang = self.lang_norms[2](lang + self.dropout(self.lang_ffn(lang)))

        # (d) language -> vision
        update = self.l2v_attn(vis_with_pos, lang, lang, key_padding_mask=lang_padding_mask)
        vis = self.vis_norms[0](vis + self.dropout(update * self.gamma_l2v))
        # (e) multi-scale deformable self-attention, fp32 (mmcv's kernel has no fp16)
        with torch.autocast(device_type=vis.device.type, enabled=False):
            vis = self.vis_self_attn(
                query=vis.float(),
                value=vis.float(),
                query_pos=vis_pos.float(),
                reference_points=reference_points.float(),
                spatial_shapes=spatial_shapes,
                level_start_index=level_start_index)
        vis = self.vis_norms[1](vis)
        # (f) visual FFN
        vis = self.vis_norms[2](vis + self.dropout(self.vis_ffn(vis)))
        return vis, lang
