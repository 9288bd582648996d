# Copyright (c) mmamlris contributors. All rights reserved.
"""Multi-head attention between two token sets of different widths (GLIP style)."""
from typing import Optional

import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor, nn


class VLMultiheadAttention(BaseModule):
    """Multi-head attention whose inner width is independent of the token widths.

    Queries (width ``query_dims``) attend to keys/values (width ``key_dims``) through
    ``q/k/v`` projections to ``embed_dims`` channels split into ``num_heads`` heads; the output
    projection maps back to ``query_dims``. This is the attention GLIP uses between image and
    text, and CARIS uses it for all attention in its decoder (vision -> language,
    language -> vision and language self-attention), with ``embed_dims = 4 * query_dims``.

    As in GLIP, the attention logits are clamped to ``[-clamp_value, clamp_value]`` before
    the softmax so that fp16 overflow (inf) or underflow (-inf) cannot produce NaNs; the
    softmax itself runs in fp32.

    Args:
        query_dims (int): Width of the query tokens (and of the output).
        key_dims (int): Width of the key and value tokens.
        embed_dims (int): Inner width of the attention (all heads together).
            Defaults to 1024.
        num_heads (int): Number of heads; must divide ``embed_dims``. Defaults to 8.
        dropout (float): Dropout on the attention probabilities. Defaults to 0.
        clamp_value (float, optional): Bound of the attention logits; None disables the
            clamping. Defaults to 50000 (fp16 max is 65504).
        init_cfg (dict, optional): mmengine init config. Defaults to None: the projections
            are initialised in :meth:`init_weights` (truncated normal, std 0.02, zero bias).
    """

    def __init__(self,
                 query_dims: int,
                 key_dims: int,
                 embed_dims: int = 1024,
                 num_heads: int = 8,
                 dropout: float = 0.0,
                 clamp_value: Optional[float] = 50000.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if embed_dims % num_heads != 0:
            raise ValueError(f'VLMultiheadAttention: embed_dims ({embed_dims}) must be '
                             f'divisible by num_heads ({num_heads}).')
        self.query_dims = query_dims
        self.key_dims = key_dims
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.clamp_value = clamp_value
        self.q_proj = nn.Linear(query_dims, embed_dims)
        self.k_proj = nn.Linear(key_dims, embed_dims)
        self.v_proj = nn.Linear(key_dims, embed_dims)
        self.out_proj = nn.Linear(embed_dims, query_dims)
        self.attn_drop = nn.Dropout(dropout)
        self.init_weights()

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) projection weights and zero biases."""
        if self.init_cfg:
            super().init_weights()
            return
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            trunc_normal_init(proj, std=0.02, bias=0.0)

    def extra_repr(self) -> str:
        """Extra repr."""
        return f'num_heads={self.num_heads}, clamp_value={self.clamp_value}'

    def forward(self,
                query: Tensor,
                key: Tensor,
                value: Tensor,
                key_padding_mask: Optional[Tensor] = None) -> Tensor:
        """Attend from the queries to the keys.

        Args:
            query (Tensor): ``[B, N_q, query_dims]``.
            key (Tensor): ``[B, N_k, key_dims]``.
            value (Tensor): ``[B, N_k, key_dims]``.
            key_padding_mask (Tensor, optional): ``[B, N_k]`` bool, True for keys to ignore.
                Every query must keep at least one key, otherwise its output is NaN.

        Returns:
            Tensor: ``[B, N_q, query_dims]``, the attention output after ``out_proj`` (no
            residual).
        """
        batch, num_queries = query.shape[:2]
        num_keys = key.shape[1]
        # [B, heads, N, head_dims]
        q = self._split_heads(self.q_proj(query) * self.head_dims**-0.5)
        k = self._split_heads(self.k_proj(key))
        v = self._split_heads(self.v_proj(value))

        logits = q @ k.transpose(-2, -1)  # [B, heads, N_q, N_k]
        if self.clamp_value is not None:
            logits = logits.clamp(min=-self.clamp_value, max=self.clamp_value)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (batch, num_keys):
                raise ValueError(f'VLMultiheadAttention: key_padding_mask must be [B, N_k] = '
                                 f'{[batch, num_keys]}, got {list(key_padding_mask.shape)}.')
            logits = logits.masked_fill(key_padding_mask[:, None, None, :].bool(),
                                        float('-inf'))
        attn = F.softmax(logits.float(), dim=-1).to(v.dtype)
        attn = self.attn_drop(attn)
        out = (attn @ v).transpose(1, 2).reshape(batch, num_queries, self.embed_dims)
        return self.out_proj(out)

    def _split_heads(self, x: Tensor) -> Tensor:
        """``[B, N, embed_dims]`` -> ``[B, heads, N, head_dims]``."""
        batch, length = x.shape[:2]
        return x.view(batch, length, self.num_heads, self.head_dims).transpose(1, 2)
