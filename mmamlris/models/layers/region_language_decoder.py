# Copyright (c) mmamlris contributors. All rights reserved.
"""ReLA's query decoder: region queries, region-language attention, minimap, no-target."""
from typing import List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from mmdet.models.layers import SinePositionalEncoding
from torch import Tensor, nn

__all__ = ['RegionLanguageDecoder', 'ReLAOutputs']


class ReLAOutputs(NamedTuple):
    """What :class:`RegionLanguageDecoder` predicts.

    Attributes:
        masks (Tensor): Mask logits ``[B, 2, h, w]`` (background, object) at the mask
            features' size: the region masks combined by the minimap.
        minimap (Tensor): ``[B, Q, 2]`` logits of each region (one query per cell of the
            ``sqrt(Q) x sqrt(Q)`` minimap) containing the target.
        no_target (Tensor): ``[B, 2]`` logits of "has a target" (0) / "no target" (1).
    """
    masks: Tensor
    minimap: Tensor
    no_target: Tensor


def _xavier(module: nn.Module) -> None:
    """Xavier-uniform weights (every parameter with more than one dimension), as Mask2Former
    and ReLA initialise their attention and FFN blocks."""
    for param in module.parameters():
        if param.dim() > 1:
            nn.init.xavier_uniform_(param)


class _Attention(nn.Module):
    """Post-norm attention block: ``norm(q + attn(q + q_pos, kv + kv_pos, kv))``.

    Sequences are ``[L, B, C]`` (``nn.MultiheadAttention``'s default layout).
    """

    def __init__(self, channels: int, num_heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(channels, num_heads)
        self.norm = nn.LayerNorm(channels)
        _xavier(self)

    def forward(self, query: Tensor, key_value: Tensor, query_pos: Optional[Tensor] = None,
                key_pos: Optional[Tensor] = None, attn_mask: Optional[Tensor] = None) -> Tensor:
        q = query if query_pos is None else query + query_pos
        k = key_value if key_pos is None else key_value + key_pos
        return self.norm(query + self.attn(q, k, value=key_value, attn_mask=attn_mask)[0])


class _FFN(nn.Module):
    """Post-norm feed-forward block: ``norm(x + W_2 relu(W_1 x))``."""

    def __init__(self, channels: int, ffn_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, ffn_channels)
        self.fc2 = nn.Linear(ffn_channels, channels)
        self.norm = nn.LayerNorm(channels)
        _xavier(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x + self.fc2(F.relu(self.fc1(x))))


def _mlp(in_channels: int, hidden: int, out_channels: int, num_layers: int) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    widths = [in_channels] + [hidden] * (num_layers - 1) + [out_channels]
    layers: List[nn.Module] = []
    for i in range(num_layers):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < num_layers - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class RegionLanguageDecoder(nn.Module):
    """ReLA's decoder (GRES, CVPR'23): region queries that read the image and the words.

    ``Q`` learnable queries, one per cell of a ``sqrt(Q) x sqrt(Q)`` minimap, go through
    ``num_layers`` rounds over the pixel decoder's levels (coarse to fine, cycling):

    .. code:: text

     predict(q) -> region masks m = <MLP_3(norm q), mask_feats>     [B, Q, h, w]
     for i in range(num_layers):
         q = RIA_i(q, level_{i % L} + pos, attn_mask = sigmoid(m) < 0.5)   # masked cross-attn
         if i == 0:                                # region-language attention, once
             q = q + 0.1 * sigmoid(w) * RLA_lang(q, W_l words)
         q = FFN_i(RLA_vision_i(q))                # self-attention among the regions
         predict(q)
     minimap = Linear(norm q)                      [B, Q, 2]
     masks   = <minimap^T MLP_3(norm q), mask_feats>                   [B, 2, h, w]
     no_target = mean_q MLP_2(norm q)              [B, 2]

    The words enter only through ``RLA_lang`` in the first round, projected by a zero-
    initialised ``W_l`` and scaled by ``sigmoid(w)`` (``w`` starts at 0). As in the official
    code, padding words are **not** masked there (ReLA passes no word mask to its decoder);
    ``mask_padding_words=True`` masks them.

    Args:
        in_channels (int): Channels of the pixel decoder's levels.
        channels (int): Query width. Defaults to 256.
        mask_channels (int): Channels of the mask features. Defaults to 256.
        text_channels (int): ``C_t`` of the words. Defaults to 768.
        num_queries (int): ``Q`` (a square: the minimap). Defaults to 100 (10 x 10).
        num_heads (int): Attention heads. Defaults to 8.
        ffn_channels (int): FFN width. Defaults to 2048.
        num_layers (int): Decoder rounds (ReLA's ``DEC_LAYERS - 1``). Defaults to 9.
        num_levels (int): Pixel-decoder levels read. Defaults to 3.
        lang_weight (float): Scale of the region-language attention. Defaults to 0.1.
        mask_padding_words (bool): Mask padding words in the region-language attention.
            Defaults to False (the official code does not).
    """

    def __init__(self,
                 in_channels: int,
                 channels: int = 256,
                 mask_channels: int = 256,
                 text_channels: int = 768,
                 num_queries: int = 100,
                 num_heads: int = 8,
                 ffn_channels: int = 2048,
                 num_layers: int = 9,
                 num_levels: int = 3,
                 lang_weight: float = 0.1,
                 mask_padding_words: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.num_levels = num_levels
        self.lang_weight = lang_weight
        self.mask_padding_words = mask_padding_words
        self._init_layers(in_channels, channels, mask_channels, text_channels, num_queries,
                          num_heads, ffn_channels, num_layers)

    def _init_layers(self, in_channels: int, channels: int, mask_channels: int,
                     text_channels: int, num_queries: int, num_heads: int, ffn_channels: int,
                     num_layers: int) -> None:
        self.positional_encoding = SinePositionalEncoding(num_feats=channels // 2,
                                                          normalize=True)
        self.cross_attn_layers = nn.ModuleList(
            _Attention(channels, num_heads) for _ in range(num_layers))
        self.self_attn_layers = nn.ModuleList(
            _Attention(channels, num_heads) for _ in range(num_layers))
        self.ffn_layers = nn.ModuleList(_FFN(channels, ffn_channels) for _ in range(num_layers))
        self.decoder_norm = nn.LayerNorm(channels)
        self.query_feat = nn.Embedding(num_queries, channels)
        self.query_embed = nn.Embedding(num_queries, channels)
        self.level_embed = nn.Embedding(self.num_levels, channels)
        self.input_proj = nn.ModuleList(
            nn.Conv2d(in_channels, channels, 1) if in_channels != channels else nn.Identity()
            for _ in range(self.num_levels))
        self.text_proj = nn.Linear(text_channels, channels, bias=False)
        nn.init.zeros_(self.text_proj.weight)
        self.text_gate = nn.Parameter(torch.zeros(()))
        self.lang_attn = _Attention(channels, num_heads)
        self.minimap_embed = nn.Linear(channels, 2)
        self.no_target_embed = _mlp(channels, channels, 2, 2)
        self.mask_embed = _mlp(channels, channels, mask_channels, 3)

    def _predict(self, queries: Tensor, mask_feats: Tensor, attn_size: Sequence[int]):
        """Region masks, minimap, target mask, no-target logits and the next attention
        mask, from the queries ``[Q, B, C]``."""
        region = self.decoder_norm(queries).transpose(0, 1)  # [B, Q, C]
        region_embed = self.mask_embed(region)
        region_masks = torch.einsum('bqc,bchw->bqhw', region_embed, mask_feats)
        minimap = self.minimap_embed(region)  # [B, Q, 2]
        target_embed = torch.einsum('bqa,bqc->bac', minimap, region_embed)
        masks = torch.einsum('bac,bchw->bahw', target_embed, mask_feats)
        no_target = self.no_target_embed(region).mean(dim=1)
        attn = F.interpolate(region_masks, size=attn_size, mode='bilinear', align_corners=False)
        attn_mask = (attn.sigmoid().flatten(2).unsqueeze(1).repeat(1, self.num_heads, 1, 1)
                     .flatten(0, 1) < 0.5).detach()  # [B * heads, Q, h_l * w_l], True: blocked
        return ReLAOutputs(masks, minimap, no_target), attn_mask

    def forward(self, levels: Sequence[Tensor], mask_feats: Tensor, text_feats: Tensor,
                text_mask: Tensor) -> ReLAOutputs:
        """
        Args:
            levels (Sequence[Tensor]): ``num_levels`` maps ``[B, C_in, h_l, w_l]``, coarse to
                fine (the pixel decoder's ``multi_scale_features``).
            mask_feats (Tensor): ``[B, C_mask, h, w]`` (stride 4).
            text_feats (Tensor): Words ``[B, N, C_t]``.
            text_mask (Tensor): ``[B, N]`` bool, True for real words.

        Returns:
            ReLAOutputs: After the last round.
        """
        if len(levels) != self.num_levels:
            raise ValueError(f'RegionLanguageDecoder reads {self.num_levels} levels, got '
                             f'{len(levels)}.')
        sources, positions, sizes = [], [], []
        for i, level in enumerate(levels):
            batch, _, height, width = level.shape
            sizes.append((height, width))
            pos = self.positional_encoding(None, input=level)
            positions.append(pos.flatten(2).permute(2, 0, 1))  # [h w, B, C]
            src = self.input_proj[i](level).flatten(2) + self.level_embed.weight[i][None, :, None]
            sources.append(src.permute(2, 0, 1))
        query_pos = self.query_embed.weight.unsqueeze(1).repeat(1, batch, 1)  # [Q, B, C]
        queries = self.query_feat.weight.unsqueeze(1).repeat(1, batch, 1)
        words = self.text_proj(text_feats).transpose(0, 1)  # [N, B, C]
        word_mask = None
        if self.mask_padding_words:
            word_mask = (~text_mask.bool())[:, None, :].repeat_interleave(
                self.num_heads, dim=0).expand(-1, queries.shape[0], -1)

        outputs, attn_mask = self._predict(queries, mask_feats, sizes[0])
        for i, (cross, self_attn, ffn) in enumerate(
                zip(self.cross_attn_layers, self.self_attn_layers, self.ffn_layers)):
            level = i % self.num_levels
            # a query that may attend nowhere attends everywhere
            attn_mask[torch.where(attn_mask.sum(-1) == attn_mask.shape[-1])] = False
            queries = cross(queries, sources[level], query_pos, positions[level], attn_mask)
            if i == 0:
                lang = self.lang_attn(queries, words, attn_mask=word_mask)
                queries = queries + lang * torch.sigmoid(self.text_gate) * self.lang_weight
            queries = ffn(self_attn(queries, queries, query_pos, query_pos))
            outputs, attn_mask = self._predict(queries, mask_feats,
                                               sizes[(i + 1) % self.num_levels])
        return outputs
