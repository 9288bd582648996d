# Copyright (c) mmamlris contributors. All rights reserved.
"""The relevance score of the released AMLRIS code (for comparison and reproduction)."""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.utils import OptSampleList
from torch import Tensor

from mmamlris.registry import MODELS
from .base_scorer import BaseAlignmentScorer

__all__ = ['ReleasedRelevanceScorer', 'official_relevance']


def official_relevance(vis_feat: Tensor, text_feat: Tensor, weight: Tensor,
                       bias: Tensor) -> Tensor:
    """PatchMax relevance of the released code (padding tokens included: the official bug).

    Args:
        vis_feat (Tensor): Visual features ``[B, C_v, h, w]`` (float32).
        text_feat (Tensor): Token features ``[B, N, C_t]`` of **all** token slots (float32).
        weight (Tensor): ``[C_v, C_t]`` weight of the never-trained ``Linear(C_t -> C_v)``.
        bias (Tensor): ``[C_v]`` bias of that layer.

    Returns:
        Tensor: Relevance ``[B, 1, h, w]`` in ``[1/N, 1]``: for every cell, the largest
        softmax-over-tokens probability of ``V . (W t + b)``.
    """
    batch, _, h, w = vis_feat.shape
    vis = vis_feat.flatten(2).transpose(1, 2)  # [B, hw, C_v]
    text = F.linear(text_feat, weight, bias)  # [B, N, C_v]
    sim = torch.bmm(vis, text.transpose(1, 2))  # [B, hw, N]
    return sim.softmax(dim=-1).amax(dim=-1).view(batch, 1, h, w)


@MODELS.register_module()
class ReleasedRelevanceScorer(BaseAlignmentScorer):
    """The relevance of the released AMLRIS code, which differs from the paper's PMME.

    The visual features are used as they are (no l2 norm, no projection); the tokens go
    through a ``Linear(C_t -> C_v)`` that the released code creates and never trains (here:
    fixed buffers initialised as PyTorch initialises ``nn.Linear``, U(+-1/sqrt(C_t)) for weight
    and bias, drawn from ``seed``); no temperature; the softmax over the tokens spans **every
    token slot, [PAD] included** (a bug of the released code, kept here on purpose), then the
    max over the tokens. The scores lie in ``[1/N, 1]`` and are not rescaled. See
    ``docs/en/aml.md`` for the full list of differences. Pair it with
    :class:`ReleasedBlockFilter` to reproduce the released masking.

    Differences that remain: we compute in float32 where the released code ran the product
    under fp16 autocast, and the projection is seeded (the released code sets no seed).

    Args:
        vis_channels (int): ``C_v``, the width of level ``in_index``.
        text_channels (int): ``C_t`` of the token features.
        in_index (int): The feature level scored. Defaults to -1 (the coarsest).
        seed (int): Seed of the CPU generator of the Linear's buffers. Defaults to 0.
        init_cfg (dict, optional): Unused (no parameters).
    """

    def __init__(self, vis_channels: int, text_channels: int, in_index: int = -1,
                 seed: int = 0, init_cfg=None) -> None:
        super().__init__(vis_channels, text_channels, in_index, init_cfg=init_cfg)
        self.seed = int(seed)
        generator = torch.Generator(device='cpu').manual_seed(self.seed)
        # nn.Linear.reset_parameters: kaiming_uniform(a=sqrt(5)) for the weight and
        # U(+-1/sqrt(fan_in)) for the bias, i.e. both U(+-1/sqrt(C_t)).
        bound = 1.0 / math.sqrt(text_channels)
        weight = torch.rand(vis_channels, text_channels, generator=generator)
        bias = torch.rand(vis_channels, generator=generator)
        self.register_buffer('text_proj_weight', (weight * 2 - 1) * bound)
        self.register_buffer('text_proj_bias', (bias * 2 - 1) * bound)

    def extra_repr(self) -> str:
        return (f'vis_channels={self.vis_channels}, text_channels={self.text_channels}, '
                f'in_index={self.in_index}, seed={self.seed}')

    def forward(self, feats: Sequence[Tensor], text_feat: Tensor, text_mask: Tensor,
                data_samples: OptSampleList = None,
                image_size: Optional[Tuple[int, int]] = None,
                seg_logits: Optional[Tensor] = None) -> Tensor:
        """Released-code relevance ``[B, 1, h, w]``; ``text_mask`` is ignored, as there."""
        return official_relevance(self._transform_inputs(feats).float(), text_feat.float(),
                                  self.text_proj_weight.float(), self.text_proj_bias.float())
