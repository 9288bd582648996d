# Copyright (c) mmamlris contributors. All rights reserved.
"""A light referring-segmentation decoder that trains in minutes on a CPU."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize
from mmseg.utils import ConfigType
from torch import Tensor, nn

from mmamlris.registry import MODELS
from .base_ris_head import BaseRISDecodeHead


def coord_map(batch: int, height: int, width: int, like: Tensor) -> Tensor:
    """Normalised pixel coordinates.

    Args:
        batch (int): Batch size ``B``.
        height (int): Map height ``H``.
        width (int): Map width ``W``.
        like (Tensor): A tensor whose dtype and device the result takes.

    Returns:
        Tensor: ``[B, 2, H, W]``; channel 0 is x, channel 1 is y, both from -1 (left/top) to 1
        (right/bottom) at the pixel centres.
    """
    ys = (torch.arange(height, device=like.device, dtype=like.dtype) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, device=like.device, dtype=like.dtype) + 0.5) / width * 2 - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack([grid_x, grid_y]).unsqueeze(0).expand(batch, -1, -1, -1)


class PixelWordAttention(nn.Module):
    """Pixel-word cross-attention with multiplicative fusion and a residual.

    Every pixel attends over the words (padding masked out); the attended language feature
    gates the pixel feature element-wise (as LAVT's pixel-word attention), and the result is
    projected and added back: ``x + proj(x * attend(x, words))``.

    Args:
        channels (int): Feature size of pixels and words.
        num_heads (int): Attention heads.
        norm_cfg (dict): Norm of the projection.
        act_cfg (dict): Activation of the projection.
    """

    def __init__(self, channels: int, num_heads: int, norm_cfg: ConfigType,
                 act_cfg: ConfigType) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.proj = ConvModule(channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor, words: Tensor, word_padding: Tensor) -> Tensor:
        """Fuse the words into the pixels.

        Args:
            x (Tensor): Pixel features ``[B, C, H, W]``.
            words (Tensor): Word features ``[B, N, C]``.
            word_padding (Tensor): ``[B, N]`` bool, True where a word is padding.

        Returns:
            Tensor: ``[B, C, H, W]``.
        """
        batch, channels, height, width = x.shape
        pixels = x.flatten(2).transpose(1, 2)  # [B, HW, C]
        attended, _ = self.attn(
            pixels, words, words, key_padding_mask=word_padding, need_weights=False)
        attended = attended.transpose(1, 2).reshape(batch, channels, height, width)
        return x + self.proj(x * attended)


@MODELS.register_module()
class LiteRISHead(BaseRISDecodeHead):
    """Light RIS decoder: FiLM + pixel-word attention + FPN.

    For each selected visual level (fine to coarse), the features, concatenated with the
    normalised (x, y) coordinates of every pixel (for "left", "top" ...), go through a 1x1
    conv + norm, are modulated by the sentence vector (FiLM: ``x * (1 + gamma) + beta``) and
    activated. The coarsest ``num_attn_levels`` levels then fuse the words by pixel-word
    cross-attention. A top-down FPN sums every level into the finest one, and a 3x3 conv and
    mmseg's ``conv_seg`` give the logits. The words are projected to ``channels`` by
    Linear + LayerNorm; the sentence vector is their mean over the real tokens. Padding tokens
    never influence the output.

    Args:
        in_channels (Sequence[int]): Channels of the selected levels, fine to coarse.
        channels (int): Width of the decoder. Defaults to 64.
        text_channels (int): Feature size ``C_t`` of the text encoder (its ``out_channels``).
        num_classes (int): 2 (background, object). Defaults to 2.
        out_channels (int): 2 (softmax CE, argmax) or 1 (sigmoid, ``threshold``; give a
            ``loss_decode`` with ``use_sigmoid=True``). Defaults to 2.
        in_index (Sequence[int], optional): Indices of the backbone outputs to use; defaults to
            ``range(len(in_channels))``.
        num_attn_levels (int): How many of the coarsest levels get pixel-word attention
            (0 disables it). Defaults to 2.
        num_heads (int): Attention heads. Defaults to 4.
        use_coords (bool): Concatenate coordinate maps to every level. Defaults to True.
        norm_cfg (dict): Norm of the convs. Defaults to GroupNorm with 8 groups.
        loss_decode (dict | list[dict]): Defaults to CE with class weights [0.9, 1.1]
            (background, object), as CARIS and AMLRIS, averaged over the non-ignored pixels
            (padding is ignored, as in PyTorch's ``cross_entropy``).
        **kwargs: Other arguments of :class:`mmseg.models.decode_heads.BaseDecodeHead`
            (``dropout_ratio``, ``ignore_index``, ``threshold``, ``align_corners``, ``init_cfg``
            ...). ``input_transform`` is always ``'multiple_select'``.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 64,
                 *,
                 text_channels: int,
                 num_classes: int = 2,
                 out_channels: int = 2,
                 in_index: Optional[Sequence[int]] = None,
                 num_attn_levels: int = 2,
                 num_heads: int = 4,
                 use_coords: bool = True,
                 norm_cfg: ConfigType = dict(type='GN', num_groups=8, requires_grad=True),
                 loss_decode: Union[ConfigType, Sequence[ConfigType]] = dict(
                     type='RISCrossEntropyLoss', class_weight=[0.9, 1.1], loss_weight=1.0),
                 **kwargs) -> None:
        if isinstance(in_channels, int):
            in_channels = [in_channels]
        in_channels = list(in_channels)
        if in_index is None:
            in_index = list(range(len(in_channels)))
        elif isinstance(in_index, int):
            in_index = [in_index]
        if kwargs.pop('input_transform', 'multiple_select') != 'multiple_select':
            raise ValueError("LiteRISHead always uses input_transform='multiple_select'.")
        if not 0 <= num_attn_levels <= len(in_channels):
            raise ValueError(f'num_attn_levels must be in [0, {len(in_channels)}] (the number '
                             f'of levels), got {num_attn_levels}.')
        super().__init__(
            in_channels,
            channels,
            num_classes=num_classes,
            out_channels=out_channels,
            in_index=list(in_index),
            input_transform='multiple_select',
            norm_cfg=norm_cfg,
            loss_decode=loss_decode,
            text_channels=text_channels,
            **kwargs)
        self.use_coords = use_coords
        self.num_attn_levels = num_attn_levels
        extra = 2 if use_coords else 0

        self.text_proj = nn.Sequential(nn.Linear(text_channels, channels), nn.LayerNorm(channels))
        self.lateral_convs = nn.ModuleList([
            ConvModule(c + extra, channels, 1, norm_cfg=norm_cfg, act_cfg=None)
            for c in in_channels
        ])
        self.films = nn.ModuleList([nn.Linear(channels, 2 * channels) for _ in in_channels])
        self.act = nn.ReLU(inplace=True)
        self.word_attns = nn.ModuleList([
            PixelWordAttention(channels, num_heads, norm_cfg, self.act_cfg)
            for _ in range(num_attn_levels)
        ])
        self.fpn_bottleneck = ConvModule(
            channels, channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=self.act_cfg)

    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Tensor) -> Tensor:
        """Predict mask logits.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs, each ``[B, C_i, H_i, W_i]``.
            text_feats (Tensor): ``[B, N, C_t]`` token features.
            text_mask (Tensor): ``[B, N]`` bool, True for real tokens.

        Returns:
            Tensor: Logits ``[B, out_channels, H_0, W_0]`` at the finest selected level.
        """
        feats = self._transform_inputs(inputs)
        self._check_levels(feats)
        words, sentence, word_padding = self._encode_text(text_feats, text_mask)

        levels: List[Tensor] = []
        first_attn = len(feats) - self.num_attn_levels
        for i, feat in enumerate(feats):
            if self.use_coords:
                batch, _, height, width = feat.shape
                feat = torch.cat([feat, coord_map(batch, height, width, feat)], dim=1)
            x = self.lateral_convs[i](feat)
            gamma, beta = self.films[i](sentence)[:, :, None, None].chunk(2, dim=1)
            x = self.act(x * (1 + gamma) + beta)
            if i >= first_attn:
                x = self.word_attns[i - first_attn](x, words, word_padding)
            levels.append(x)

        out = levels[-1]
        for x in reversed(levels[:-1]):
            out = x + resize(out, size=x.shape[2:], mode='bilinear',
                             align_corners=self.align_corners)
        return self.cls_seg(self.fpn_bottleneck(out))

    def _encode_text(self, text_feats: Tensor,
                     text_mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Project the words; mean-pool the real ones into a sentence vector.

        Returns:
            tuple[Tensor, Tensor, Tensor]: words ``[B, N, C]`` (zero at padding), sentence
            ``[B, C]`` and the attention padding mask ``[B, N]`` bool.
        """
        if text_feats.dim() != 3 or text_feats.shape[-1] != self.text_channels:
            raise ValueError(f'LiteRISHead expects text_feats [B, N, {self.text_channels}] '
                             f'(text_channels), got {tuple(text_feats.shape)}.')
        if text_mask.shape != text_feats.shape[:2]:
            raise ValueError(f'text_mask {tuple(text_mask.shape)} does not match text_feats '
                             f'{tuple(text_feats.shape)}.')
        valid = text_mask.bool()
        words = self.text_proj(text_feats).masked_fill(~valid[..., None], 0)
        count = valid.sum(1, keepdim=True).clamp(min=1).to(words.dtype)
        sentence = words.sum(1) / count
        # A sample without any real token attends to all slots instead of producing NaNs.
        word_padding = ~valid & valid.any(1, keepdim=True)
        return words, sentence, word_padding

    def _check_levels(self, feats: Sequence[Tensor]) -> None:
        """Check the channels and the fine-to-coarse order of the selected levels."""
        for i, (feat, channels) in enumerate(zip(feats, self.in_channels)):
            if feat.shape[1] != channels:
                raise ValueError(f'LiteRISHead level {i} (in_index {self.in_index[i]}) has '
                                 f'{feat.shape[1]} channels, in_channels says {channels}.')
            if i and (feat.shape[2] > feats[i - 1].shape[2]
                      or feat.shape[3] > feats[i - 1].shape[3]):
                raise ValueError('LiteRISHead expects its levels from fine to coarse; level '
                                 f'{i} is larger than level {i - 1}: reorder in_index.')
