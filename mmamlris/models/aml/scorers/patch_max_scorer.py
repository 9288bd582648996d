# Copyright (c) mmamlris contributors. All rights reserved.
"""PatchMax Matching Evaluation (PMME), the alignment score of the AMLRIS paper."""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.utils import OptSampleList
from torch import Tensor

from mmamlris.registry import MODELS
from .base_scorer import BaseAlignmentScorer

__all__ = ['PatchMaxScorer', 'check_score_norm', 'minmax_per_image', 'score_normed']

# A score map whose range is below this fraction of its magnitude counts as constant.
_CONSTANT_RTOL = 1e-5


def minmax_per_image(score: Tensor) -> Tensor:
    """Rescale each image's ``[B, 1, h, w]`` map to ``[0, 1]``; a constant map becomes all 1."""
    flat = score.flatten(1)
    low = flat.amin(dim=1, keepdim=True)
    high = flat.amax(dim=1, keepdim=True)
    spread = high - low
    constant = spread <= _CONSTANT_RTOL * torch.maximum(low.abs(), high.abs())
    scaled = (flat - low) / spread.clamp_min(torch.finfo(flat.dtype).tiny)
    return torch.where(constant, torch.ones_like(flat), scaled).view_as(score)


def check_score_norm(scorer: str, score_norm: str) -> str:
    """``score_norm`` if it is ``'none'`` or ``'minmax'``; else a ValueError naming ``scorer``."""
    if score_norm not in ('none', 'minmax'):
        raise ValueError(f"{scorer}: score_norm must be 'none' or 'minmax', got "
                         f'{score_norm!r}.')
    return score_norm


def score_normed(score: Tensor, score_norm: str) -> Tensor:
    """``score`` ``[B, 1, h, w]`` after ``score_norm`` (:func:`minmax_per_image` or as is)."""
    return minmax_per_image(score) if score_norm == 'minmax' else score


@MODELS.register_module()
class PatchMaxScorer(BaseAlignmentScorer):
    r"""The paper's PMME: fixed random projections, a softmax over the tokens, PatchMax.

    With visual features ``V`` ``[B, C_v, h, w]`` and tokens ``T`` ``[B, N, C_t]`` (mask
    ``[B, N]``), in float32:

    1. ``normalize``: l2-normalise ``V`` per cell and ``T`` per token. Padding tokens are
       zeroed first, so their features never reach the result.
    2. Project both into a ``D_a``-dim space with fixed Gaussian buffers ``W_v`` ``[C_v, D_a]``
       and ``W_t`` ``[C_t, D_a]`` (entries N(0, 1/D_a), drawn from ``seed``, saved in
       checkpoints, never trained): ``S = (V W_v)(T W_t)^T / temperature`` ``[B, hw, N]``
       (computed as ``V ((T W_t) W_v^T)^T``, the same product in a cheaper order).
    3. Softmax over the real tokens of each cell (padding gets probability 0).
    4. Reduce over the real tokens: ``'max'`` (PatchMax: a cell is aligned if one word matches
       it) or ``'mean'`` (the paper's ablation). A sample without a real token scores 1.
    5. ``score_norm='minmax'`` rescales each image's map to ``[0, 1]`` (a constant map becomes
       all 1, i.e. nothing weak).

    ``temperature=0.05`` and ``score_norm='minmax'`` are ours, not the paper's: they avoid the
    scale trap described in ``docs/en/aml.md`` (projected cosines of about
    ``+-1/sqrt(D_a)`` make a plain softmax flat, so every cell would be weak). Note that two
    *independent* projections make ``S`` a random bilinear form of the raw features whose
    expectation is zero for any pair: see ``docs/en/aml.md`` for what that means for AML.

    Args:
        vis_channels (int): ``C_v``, the width of level ``in_index``.
        text_channels (int): ``C_t`` of the token features.
        in_index (int): The feature level scored. Defaults to -1 (the coarsest).
        proj_dim (int): ``D_a`` of the random projections. Defaults to 256.
        normalize (bool): l2-normalise cells and tokens first. Defaults to True.
        temperature (float): Divides the similarities before the softmax. Defaults to 0.05.
        reduce (str): ``'max'`` (PatchMax) or ``'mean'`` over the real tokens.
        score_norm (str): ``'minmax'`` or ``'none'``. Defaults to ``'minmax'``.
        seed (int): Seed of the CPU generator that draws the projections (identical on every
            rank). Defaults to 0.
        init_cfg (dict, optional): Unused (no parameters).
    """

    def __init__(self,
                 vis_channels: int,
                 text_channels: int,
                 in_index: int = -1,
                 proj_dim: int = 256,
                 normalize: bool = True,
                 temperature: float = 0.05,
                 reduce: str = 'max',
                 score_norm: str = 'minmax',
                 seed: int = 0,
                 init_cfg=None) -> None:
        super().__init__(vis_channels, text_channels, in_index, init_cfg=init_cfg)
        if not isinstance(proj_dim, int) or isinstance(proj_dim, bool) or proj_dim <= 0:
            raise ValueError(f'PatchMaxScorer: proj_dim must be a positive int, got '
                             f'{proj_dim!r}.')
        if reduce not in ('max', 'mean'):
            raise ValueError(f"PatchMaxScorer: reduce must be 'max' or 'mean', got {reduce!r}.")
        if not temperature > 0:
            raise ValueError(f'PatchMaxScorer: temperature must be > 0, got {temperature!r}.')
        self.proj_dim = proj_dim
        self.normalize = bool(normalize)
        self.temperature = float(temperature)
        self.reduce = reduce
        self.score_norm = check_score_norm('PatchMaxScorer', score_norm)
        self.seed = int(seed)
        generator = torch.Generator(device='cpu').manual_seed(self.seed)
        std = 1.0 / math.sqrt(proj_dim)
        self.register_buffer('vis_proj',
                             torch.randn(vis_channels, proj_dim, generator=generator) * std)
        self.register_buffer('text_proj',
                             torch.randn(text_channels, proj_dim, generator=generator) * std)

    def extra_repr(self) -> str:
        return (f'vis_channels={self.vis_channels}, text_channels={self.text_channels}, '
                f'in_index={self.in_index}, proj_dim={self.proj_dim}, normalize={self.normalize}, '
                f'temperature={self.temperature}, reduce={self.reduce!r}, '
                f'score_norm={self.score_norm!r}, seed={self.seed}')

    def forward(self, feats: Sequence[Tensor], text_feat: Tensor, text_mask: Tensor,
                data_samples: OptSampleList = None,
                image_size: Optional[Tuple[int, int]] = None,
                seg_logits: Optional[Tensor] = None) -> Tensor:
        """PatchMax score of every cell of level ``in_index``, float32 ``[B, 1, h, w]`` after
        ``score_norm``."""
        vis_feat = self._transform_inputs(feats).float()
        text_feat = text_feat.float()
        batch, _, h, w = vis_feat.shape
        valid = text_mask.bool()
        # Zero the padding first: whatever it holds (even inf/NaN) cannot reach the scores.
        text = torch.where(valid[..., None], text_feat, torch.zeros((), device=text_feat.device))
        vis = vis_feat.flatten(2).transpose(1, 2)  # [B, hw, C_v]
        if self.normalize:
            text = F.normalize(text, dim=-1)
        # (V W_v)(T W_t)^T computed as V ((T W_t) W_v^T)^T: C_v x N instead of hw x D_a.
        text = (text @ self.text_proj.float()) @ self.vis_proj.float().t()
        sim = torch.bmm(vis, text.transpose(1, 2))  # [B, hw, N]
        if self.normalize:
            # Dividing each cell's row of S by |v| equals l2-normalising the cells first.
            sim = sim / vis_feat.flatten(2).norm(dim=1)[..., None].clamp_min(1e-12)
        sim = sim / self.temperature

        pad = ~valid[:, None, :]  # [B, 1, N]
        prob = sim.masked_fill(pad, torch.finfo(sim.dtype).min).softmax(dim=2)
        if self.reduce == 'max':
            score = prob.masked_fill(pad, float('-inf')).amax(dim=2)
        else:
            score = prob.masked_fill(pad, 0.0).sum(dim=2) / valid.sum(
                dim=1, keepdim=True).clamp(min=1)
        # A sample with no real token has nothing to align with: score 1, nothing weak.
        score = torch.where(valid.any(dim=1, keepdim=True), score, torch.ones_like(score))
        score = score.view(batch, 1, h, w)
        return score_normed(score, self.score_norm)
