# Copyright (c) mmamlris contributors. All rights reserved.
"""CARIS's conditional prompts: image-dependent tokens for the text encoder."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor, nn


class ConditionalPrompt(BaseModule):
    """Pool a visual map into a pyramid of tokens for the text encoder.

    For every pool size ``s`` the map is average-pooled to ``s x s`` cells; each cell vector
    goes through ``Linear(vis_channels -> text_channels) -> ReLU ->
    Linear(text_channels -> text_channels)`` (one pair of Linears per pool size). The
    ``P = sum(s * s)`` tokens, coarse cells first and each grid in row-major order, are added
    to a learned ``nn.Embedding(P, text_channels)`` and layer-normalised. CARIS appends them
    after BERT's embedding layer, so the words attend to the image from the first layer on.

    Args:
        vis_channels (int): Channels of the pooled visual map (CARIS: Swin-B stage 4, 1024).
        text_channels (int): Width of the text encoder (CARIS: BERT-base, 768).
        pool_sizes (Sequence[int]): Side of each pooling grid. Defaults to (1, 2): 5 tokens.
        init_cfg (dict, optional): mmengine init config. Defaults to None: the Linears get a
            truncated normal (std 0.02) weight and zero bias, as in CARIS; the embedding and
            the LayerNorm keep PyTorch's defaults.
    """

    def __init__(self,
                 vis_channels: int,
                 text_channels: int,
                 pool_sizes: Sequence[int] = (1, 2),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        pool_sizes = tuple(int(s) for s in pool_sizes)
        if not pool_sizes or min(pool_sizes) < 1:
            raise ValueError(f'ConditionalPrompt: pool_sizes must be positive integers, got '
                             f'{pool_sizes}.')
        self.pool_sizes = pool_sizes
        self.num_prompts = sum(s * s for s in pool_sizes)
        self.in_linears = nn.ModuleList(
            [nn.Linear(vis_channels, text_channels) for _ in pool_sizes])
        self.out_linears = nn.ModuleList(
            [nn.Linear(text_channels, text_channels) for _ in pool_sizes])
        self.prompt_embed = nn.Embedding(self.num_prompts, text_channels)
        self.norm = nn.LayerNorm(text_channels)
        self.init_weights()

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) Linear weights and zero biases."""
        if self.init_cfg:
            super().init_weights()
            return
        for linear in [*self.in_linears, *self.out_linears]:
            trunc_normal_init(linear, std=0.02, bias=0.0)

    def forward(self, vis: Tensor) -> Tensor:
        """Compute the prompts.

        Args:
            vis (Tensor): Visual map ``[B, vis_channels, H, W]``.

        Returns:
            Tensor: ``[B, P, text_channels]``.
        """
        tokens = []
        for size, in_linear, out_linear in zip(self.pool_sizes, self.in_linears,
                                               self.out_linears):
            cells = F.adaptive_avg_pool2d(vis, size).flatten(2).transpose(1, 2)  # [B, s*s, C]
            tokens.append(out_linear(F.relu(in_linear(cells))))
        prompts = torch.cat(tokens, dim=1) + self.prompt_embed.weight[None]
        return self.norm(prompts)
