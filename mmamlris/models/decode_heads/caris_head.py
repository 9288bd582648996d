# Copyright (c) mmamlris contributors. All rights reserved.
"""CARIS's vision-language pixel decoder (Liu et al., ACM MM 2023) as an mmseg decode head."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import ConvModule
from mmdet.models.layers import SinePositionalEncoding
from mmengine.model import ModuleList
from mmseg.models.utils import resize
from mmseg.utils import ConfigType
from torch import Tensor, nn

from mmamlris.registry import MODELS
from ..layers import ConditionalPrompt, VLDeformLayer
from .base_ris_head import BaseRISDecodeHead


def _pyramid_pool_sizes(num_prompts: int) -> Tuple[int, ...]:
    """Pool sizes ``(1, 2, ..., k)`` whose cells add up to ``num_prompts`` (5 -> (1, 2))."""
    sizes, total = [], 0
    while total < num_prompts:
        sizes.append(len(sizes) + 1)
        total += sizes[-1]**2
    if total != num_prompts:
        raise ValueError(
            f'CARISHead: num_text_prompts must be 0 (off) or 1, 5, 14, 30, ... (the cells of '
            f'a 1x1, 2x2, ... pooling pyramid of the stride-32 map), got {num_prompts}.')
    return tuple(sizes)


def _token_centres(height: int, width: int, device: torch.device) -> Tensor:
    """Normalised ``(x, y)`` centres of the cells of a ``height x width`` grid, ``[h*w, 2]``."""
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2)


@MODELS.register_module()
class CARISHead(BaseRISDecodeHead):
    """CARIS's vision-language deformable-attention pixel decoder.

    Re-implemented from the description of CARIS (`Liu et al., "CARIS: Context-Aware
    Referring Image Segmentation", ACM MM 2023`), which the official AMLRIS code uses as its
    model. With the default arguments (Swin-B features at 448x448 and BERT-base):

    1. **Visual tokens.** The ``num_deform_levels`` coarsest inputs (strides 32, 16, 8) go
       through 1x1 conv + GroupNorm to ``channels`` and are flattened, coarse first, into
       one token sequence (196 + 784 + 3136 tokens at 448). Their position encoding is a
       normalised sine encoding plus a learned level embedding.
    2. **Language tokens.** ``text_feats`` go through Linear + LayerNorm to ``channels``;
       ``num_vis_prompts`` learned tokens (never masked) are appended.
    3. ``num_layers`` :class:`~mmamlris.models.layers.VLDeformLayer` update both streams
       (cross-attention both ways, language self-attention, deformable visual
       self-attention in fp32, FFNs).
    4. **FPN.** Each finer input (stride 4) goes through a 1x1 lateral conv + GN, is added to
       the bilinearly upsampled finest decoder output, then a 3x3 conv + GN + ReLU; a 3-layer
       1x1-conv MLP gives the mask features ``[B, channels, H/4, W/4]``.
    5. **Mask head.** A 3-layer MLP (``lang_embed``) maps the output of token 0 ([CLS]) to
       the object embedding and the mean output of the visual prompts to the background
       embedding; their dot products with the mask features are the logits, channel 0 =
       background, channel 1 = object.

    :meth:`text_prompts` implements CARIS's conditional prompts: ``num_text_prompts`` tokens
    pooled from the coarsest input (see :class:`~mmamlris.models.layers.ConditionalPrompt`)
    that the text encoder appends after its embedding layer.

    The loss is mmseg's (:meth:`loss_by_feat`): the logits are upsampled to the GT bilinearly
    with ``align_corners=True`` (as CARIS) and scored by ``loss_decode``. mmseg's
    ``conv_seg`` is not used and is deleted, so that every parameter receives a gradient
    (DDP without ``find_unused_parameters``); the conditional-prompt parameters receive theirs
    through the text encoder.

    **Initialisation.** CARIS never calls its decoder's ``init_weights``; the modules keep the
    initialisation they give themselves at construction, and so does this head (calling
    :meth:`init_weights` re-applies the same schemes): the decoder layers and the conditional
    prompts use a truncated normal (std 0.02) for their Linears, mmcv's own scheme for the
    deformable attention, mmcv's ``ConvModule`` default (Kaiming) for the convs with a norm,
    PyTorch defaults for the rest (embeddings N(0, 1), the text projection, ``lang_embed``
    and the mask-feature MLP).

    Args:
        in_channels (Sequence[int]): Channels of the selected inputs, fine to coarse.
            Defaults to Swin-B's (128, 256, 512, 1024).
        channels (int): Width ``d`` of the decoder and of the mask features. Defaults to 256.
        text_channels (int): Width ``C_t`` of the text encoder (its ``out_channels``).
            Defaults to 768 (BERT-base).
        num_layers (int): Decoder layers. Defaults to 6.
        num_heads (int): Heads of every attention. Defaults to 8.
        num_deform_levels (int): How many of the coarsest inputs enter the deformable
            decoder; the finer ones go through the FPN step. Defaults to 3.
        num_points (int): Deformable sampling points per head and level. Defaults to 4.
        attn_inner_channels (int): Inner width of the (cross/self) multi-head attentions.
            Defaults to 1024.
        ffn_channels (int): Hidden width of the FFNs. Defaults to 1024.
        transformer_dropout (float): Dropout inside the decoder layers. Defaults to 0.
        num_vis_prompts (int): Learned tokens appended to the language stream; their mean
            output gives the background embedding, so at least 1. Defaults to 5.
        num_text_prompts (int): Conditional prompts for the text encoder: 0 (off) or the
            cell count of a 1x1, 2x2, ... pooling pyramid (1, 5, 14 ...). Defaults to 5.
        im2col_step (int): Chunk size of mmcv's deformable-attention CUDA kernel (it must
            divide the batch size when smaller than it). Defaults to 64.
        num_classes (int): Must be 2 (background, object).
        out_channels (int): Must be 2 (softmax CE, argmax at test time).
        in_index (Sequence[int], optional): Indices of the backbone outputs to use; defaults
            to ``range(len(in_channels))``.
        norm_cfg (dict): Norm of the convs. Defaults to GroupNorm with 32 groups.
        align_corners (bool): ``align_corners`` of the upsampling to the GT / input size.
            Defaults to True (CARIS).
        loss_decode (dict | list[dict]): Defaults to CE with class weights [0.9, 1.1]
            (background, object) as CARIS, averaged over the non-ignored pixels.
        init_cfg (dict, optional): mmengine init config. Defaults to None (see above).
        **kwargs: Other :class:`mmseg.models.decode_heads.BaseDecodeHead` arguments
            (``ignore_index``, ``act_cfg`` of the FPN output conv ...). ``input_transform``
            is always ``'multiple_select'``, ``dropout_ratio`` always 0 (no ``conv_seg``).
    """

    def __init__(self,
                 in_channels: Sequence[int] = (128, 256, 512, 1024),
                 channels: int = 256,
                 *,
                 text_channels: int = 768,
                 num_layers: int = 6,
                 num_heads: int = 8,
                 num_deform_levels: int = 3,
                 num_points: int = 4,
                 attn_inner_channels: int = 1024,
                 ffn_channels: int = 1024,
                 transformer_dropout: float = 0.0,
                 num_vis_prompts: int = 5,
                 num_text_prompts: int = 5,
                 im2col_step: int = 64,
                 num_classes: int = 2,
                 out_channels: int = 2,
                 in_index: Optional[Sequence[int]] = None,
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32, requires_grad=True),
                 align_corners: bool = True,
                 loss_decode: Union[ConfigType, Sequence[ConfigType]] = dict(
                     type='RISCrossEntropyLoss', class_weight=[0.9, 1.1], loss_weight=1.0),
                 init_cfg: Optional[ConfigType] = None,
                 **kwargs) -> None:
        in_channels = [in_channels] if isinstance(in_channels, int) else list(in_channels)
        if in_index is None:
            in_index = list(range(len(in_channels)))
        elif isinstance(in_index, int):
            in_index = [in_index]
        self._check_args(in_channels, channels, num_deform_levels, num_vis_prompts,
                         num_classes, out_channels, norm_cfg, kwargs)
        kwargs.pop('input_transform', None)
        kwargs.pop('dropout_ratio', None)
        super().__init__(
            in_channels,
            channels,
            num_classes=num_classes,
            out_channels=out_channels,
            in_index=list(in_index),
            input_transform='multiple_select',
            dropout_ratio=0.0,
            norm_cfg=norm_cfg,
            align_corners=align_corners,
            loss_decode=loss_decode,
            init_cfg=init_cfg,
            text_channels=text_channels,
            **kwargs)
        # The class embeddings replace mmseg's 1x1 classifier; an unused parameter would
        # break DDP without find_unused_parameters.
        del self.conv_seg

        self.num_deform_levels = num_deform_levels
        self.num_vis_prompts = num_vis_prompts
        self.num_text_prompts = num_text_prompts

        # 1. visual tokens: coarse to fine (strides 32, 16, 8 for 4 Swin outputs)
        deform_channels = in_channels[::-1][:num_deform_levels]
        self.input_convs = ModuleList([
            ConvModule(c, channels, 1, bias=True, norm_cfg=norm_cfg, act_cfg=None)
            for c in deform_channels
        ])
        self.positional_encoding = SinePositionalEncoding(
            num_feats=channels // 2, normalize=True)
        self.level_embed = nn.Embedding(num_deform_levels, channels)
        # 2. language tokens
        self.text_proj = nn.Linear(text_channels, channels)
        self.text_norm = nn.LayerNorm(channels)
        self.vis_prompts = nn.Embedding(num_vis_prompts, channels)
        # 3. decoder
        self.layers = ModuleList([
            VLDeformLayer(
                embed_dims=channels,
                num_heads=num_heads,
                num_levels=num_deform_levels,
                num_points=num_points,
                attn_embed_dims=attn_inner_channels,
                ffn_channels=ffn_channels,
                dropout=transformer_dropout,
                im2col_step=im2col_step) for _ in range(num_layers)
        ])
        # 4. FPN for the finer inputs (coarse to fine) and the mask features
        fpn_channels = in_channels[::-1][num_deform_levels:]
        self.lateral_convs = ModuleList([
            ConvModule(c, channels, 1, bias=False, norm_cfg=norm_cfg, act_cfg=None)
            for c in fpn_channels
        ])
        self.output_convs = ModuleList([
            ConvModule(channels, channels, 3, padding=1, bias=False, norm_cfg=norm_cfg,
                       act_cfg=self.act_cfg) for _ in fpn_channels
        ])
        self.mask_feature = nn.Sequential(
            nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1))
        # 5. class embeddings from the language stream
        self.lang_embed = nn.Sequential(
            nn.Linear(channels, channels), nn.ReLU(inplace=True),
            nn.Linear(channels, channels), nn.ReLU(inplace=True),
            nn.Linear(channels, channels))
        # 6. conditional prompts for the text encoder
        self.conditional_prompt = None
        if num_text_prompts > 0:
            self.conditional_prompt = ConditionalPrompt(
                in_channels[-1], text_channels, _pyramid_pool_sizes(num_text_prompts))

    @staticmethod
    def _check_args(in_channels: List[int], channels: int, num_deform_levels: int,
                    num_vis_prompts: int, num_classes: int, out_channels: int,
                    norm_cfg: Optional[ConfigType], kwargs: dict) -> None:
        """Reject arguments the CARIS structure cannot honour, saying what to change."""
        if kwargs.get('input_transform', 'multiple_select') != 'multiple_select':
            raise ValueError("CARISHead always uses input_transform='multiple_select'.")
        if kwargs.get('dropout_ratio', 0) not in (0, 0.0, None):
            raise ValueError('CARISHead has no conv_seg, so dropout_ratio must be 0; use '
                             'transformer_dropout for dropout inside the decoder.')
        if not 1 <= num_deform_levels <= len(in_channels):
            raise ValueError(f'CARISHead: num_deform_levels must be in [1, {len(in_channels)}] '
                             f'(the number of inputs), got {num_deform_levels}.')
        if channels % 2:
            raise ValueError(f'CARISHead: channels must be even (sine position encoding), '
                             f'got {channels}.')
        norm_cfg = norm_cfg or {}
        groups = norm_cfg.get('num_groups') if norm_cfg.get('type') == 'GN' else None
        if groups and channels % groups:
            raise ValueError(f'CARISHead: channels ({channels}) must be divisible by the '
                             f'GroupNorm num_groups ({groups}) of norm_cfg.')
        if num_vis_prompts < 1:
            raise ValueError('CARISHead: num_vis_prompts must be >= 1 (their mean output is '
                             f'the background embedding), got {num_vis_prompts}.')
        if num_classes != 2 or out_channels != 2:
            raise ValueError('CARISHead predicts background and object logits: it needs '
                             f'num_classes=2 and out_channels=2, got {num_classes} and '
                             f'{out_channels}.')

    def cls_seg(self, feat: Tensor) -> Tensor:
        """Not used: the logits come from the class embeddings (see :meth:`forward`)."""
        raise NotImplementedError('CARISHead has no conv_seg; its logits are the dot '
                                  'products of the class embeddings and the mask features.')

    def text_prompts(self, feats: Sequence[Tensor]) -> Optional[Tensor]:
        """CARIS's conditional prompts, pooled from the coarsest selected input.

        Args:
            feats (Sequence[Tensor]): Backbone outputs, each ``[B, C_i, H_i, W_i]``.

        Returns:
            Tensor | None: ``[B, num_text_prompts, text_channels]``, or None when
            ``num_text_prompts=0``.
        """
        if self.conditional_prompt is None:
            return None
        coarsest = self._transform_inputs(feats)[-1]
        if coarsest.dim() != 4 or coarsest.shape[1] != self.in_channels[-1]:
            raise ValueError(f'CARISHead.text_prompts expects the coarsest input (in_index '
                             f'{self.in_index[-1]}) as [B, {self.in_channels[-1]}, H, W], got '
                             f'{tuple(coarsest.shape)}.')
        return self.conditional_prompt(coarsest)

    def text_prompt_levels(self) -> Tuple[int, ...]:
        """The coarsest selected input when the head has conditional prompts."""
        if self.conditional_prompt is None:
            return ()
        in_index = self.in_index if isinstance(self.in_index, (list, tuple)) else [self.in_index]
        return (int(in_index[-1]), )

    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Tensor) -> Tensor:
        """Predict mask logits.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs, each ``[B, C_i, H_i, W_i]``.
            text_feats (Tensor): ``[B, N, C_t]`` token features, token 0 being [CLS].
            text_mask (Tensor): ``[B, N]`` bool, True for real tokens.

        Returns:
            Tensor: Logits ``[B, 2, H_0, W_0]`` at the finest selected level (stride 4);
            channel 0 is the background, channel 1 the object.
        """
        feats = self._transform_inputs(inputs)
        self._check_inputs(feats, text_feats, text_mask)
        deform_feats = feats[::-1][:self.num_deform_levels]  # coarse to fine
        vis, vis_pos, reference_points, spatial_shapes, level_start_index = \
            self._visual_tokens(deform_feats)
        lang, lang_padding_mask = self._language_tokens(text_feats, text_mask)

        for layer in self.layers:
            vis, lang = layer(vis, lang, lang_padding_mask, vis_pos, reference_points,
                              spatial_shapes, level_start_index)

        batch = vis.shape[0]
        finest_h, finest_w = deform_feats[-1].shape[-2:]
        out = vis[:, -finest_h * finest_w:].transpose(1, 2).reshape(
            batch, -1, finest_h, finest_w)
        for feat, lateral_conv, output_conv in zip(feats[::-1][self.num_deform_levels:],
                                                   self.lateral_convs, self.output_convs):
            lateral = lateral_conv(feat)
            out = output_conv(lateral + resize(
                out, size=lateral.shape[-2:], mode='bilinear', align_corners=False))
        mask_feature = self.mask_feature(out)  # [B, C, H_0, W_0]

        num_words = text_feats.shape[1]
        obj_embed = self.lang_embed(lang[:, 0])  # [CLS]
        bg_embed = self.lang_embed(lang[:, num_words:].mean(dim=1))  # visual prompts
        class_embed = torch.stack([bg_embed, obj_embed], dim=1)  # [B, 2, C]
        return torch.einsum('bqc,bchw->bqhw', class_embed, mask_feature)

    def _visual_tokens(self, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Project and flatten the decoder levels (given coarse to fine).

        Returns:
            tuple[Tensor, ...]: tokens ``[B, N_v, C]``, position + level encoding
            ``[B, N_v, C]``, reference points ``[B, N_v, L, 2]``, spatial shapes ``[L, 2]``
            and level start indices ``[L]`` (int64).
        """
        tokens, positions, centres, shapes = [], [], [], []
        for level, (feat, input_conv) in enumerate(zip(feats, self.input_convs)):
            batch, _, height, width = feat.shape
            tokens.append(input_conv(feat).flatten(2).transpose(1, 2))
            no_padding = feat.new_zeros((1, height, width), dtype=torch.bool)
            pos = self.positional_encoding(no_padding).flatten(2).transpose(1, 2)
            positions.append(pos + self.level_embed.weight[level])
            centres.append(_token_centres(height, width, feat.device))
            shapes.append((height, width))
        num_levels = len(feats)
        tokens = torch.cat(tokens, dim=1)
        vis_pos = torch.cat(positions, dim=1).expand(tokens.shape[0], -1, -1)
        reference_points = torch.cat(centres)[None, :, None].expand(
            tokens.shape[0], -1, num_levels, -1)
        spatial_shapes = torch.as_tensor(shapes, dtype=torch.long, device=tokens.device)
        level_start_index = torch.cat([
            spatial_shapes.new_zeros(1),
            spatial_shapes.prod(1).cumsum(0)[:-1]
        ])
        return tokens, vis_pos, reference_points, spatial_shapes, level_start_index

    def _language_tokens(self, text_feats: Tensor, text_mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Project the words and append the visual prompts.

        Returns:
            tuple[Tensor, Tensor]: tokens ``[B, N + P, C]`` and their padding mask
            ``[B, N + P]`` (bool, True for padding; the prompts are never padding).
        """
        batch = text_feats.shape[0]
        words = self.text_norm(self.text_proj(text_feats))
        prompts = self.vis_prompts.weight[None].expand(batch, -1, -1).to(words.dtype)
        padding = torch.cat([~text_mask.bool(),
                             text_mask.new_zeros((batch, self.num_vis_prompts),
                                                 dtype=torch.bool)], dim=1)
        return torch.cat([words, prompts], dim=1), padding

    def _check_inputs(self, feats: Sequence[Tensor], text_feats: Tensor,
                      text_mask: Tensor) -> None:
        """Check channels, level order and text shapes, with messages naming the fix."""
        for i, (feat, channels) in enumerate(zip(feats, self.in_channels)):
            if feat.dim() != 4 or feat.shape[1] != channels:
                raise ValueError(f'CARISHead input {i} (in_index {self.in_index[i]}) must be '
                                 f'[B, {channels}, H, W] (in_channels), got '
                                 f'{tuple(feat.shape)}.')
            if i and (feat.shape[2] > feats[i - 1].shape[2]
                      or feat.shape[3] > feats[i - 1].shape[3]):
                raise ValueError('CARISHead expects its inputs from fine to coarse; input '
                                 f'{i} is larger than input {i - 1}: reorder in_index.')
        if text_feats.dim() != 3 or text_feats.shape[-1] != self.text_channels:
            raise ValueError(f'CARISHead expects text_feats [B, N, {self.text_channels}] '
                             f'(text_channels), got {tuple(text_feats.shape)}.')
        if text_feats.shape[1] < 1:
            raise ValueError('CARISHead needs at least one text token ([CLS]).')
        if tuple(text_mask.shape) != tuple(text_feats.shape[:2]):
            raise ValueError(f'text_mask {tuple(text_mask.shape)} does not match text_feats '
                             f'{tuple(text_feats.shape)}.')
        if text_feats.shape[0] != feats[0].shape[0]:
            raise ValueError(f'CARISHead: batch of text_feats ({text_feats.shape[0]}) and of '
                             f'the visual features ({feats[0].shape[0]}) differ.')
