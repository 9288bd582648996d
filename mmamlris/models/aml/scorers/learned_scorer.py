# Copyright (c) mmamlris contributors. All rights reserved.
"""A small head that learns the alignment score from the GT (beyond the paper)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.utils import OptSampleList
from torch import Tensor, nn

from mmamlris.registry import MODELS
from ...utils import sentence_feature
from ..alignment_statistics import gt_masks
from .base_scorer import BaseAlignmentScorer
from .patch_max_scorer import check_score_norm, score_normed

__all__ = ['LearnedScorer']


@MODELS.register_module()
class LearnedScorer(BaseAlignmentScorer):
    """Learn what PMME meant to measure: does this cell hold the referred object?

    A two-layer MLP embeds every visual cell (``1x1`` convolutions ``C_v -> D -> D``) and
    another the expression (the masked mean of its token features, ``C_t -> D -> D``); the
    score of a cell is ``sigmoid(s * cos(v, t) + b)`` with a learned scale ``s`` and bias
    ``b``. Its loss (:meth:`loss`, ``loss_scorer``) is the binary cross-entropy of those logits
    against "the cell overlaps the referred object" (the GT max-pooled to the cell grid; cells
    made of ignored pixels only are left out). The features it receives are detached, so no
    gradient reaches the model: only the head learns, from its own loss, in its own parameter
    group (``aml.scorer.*``). Inference never runs it.

    Early in training the head is random and its scores carry no signal; AML then masks about
    as a random mask does, until ``aml_target_auc`` rises. ``score_norm='minmax'`` (default)
    rescales each image's map to ``[0, 1]`` before the filter's ``tau``, as PatchMax does: the
    head's probabilities stay small for the rare object cells (measured: with ``'none'`` every
    block scored below ``tau = 0.4`` and AML masked uniformly although the ranking was good).

    A coarse level alone knows little about where an object's edge falls inside its cell.
    ``aux_feat_indices`` adds finer stage-1 levels (indices into the feature levels the scorer
    receives, like ``in_index``): each is max- and mean-pooled to the cell grid and
    concatenated to the scored level before the cell MLP (nothing is recomputed: stage 1 has
    those levels already)::

        cells = cat(feats[in_index], max_pool(feats[i]), avg_pool(feats[i]), ...)  # [B, C, h, w]
        logit = s * cos(mlp_v(cells), mlp_t(mean of the tokens)) + b           # [B, 1, h, w]

    :meth:`forward` returns these logits (with gradient while training, to the head only);
    :meth:`scores` turns them into the map the filter reads and :meth:`loss_by_feat` into the
    loss, so the head runs once per step.

    Args:
        vis_channels (int): ``C_v``, the width of level ``in_index``.
        text_channels (int): ``C_t`` of the token features.
        in_index (int): The feature level scored (the cell grid). Defaults to -1.
        embed_dim (int): ``D``. Defaults to 64.
        aux_feat_indices (Sequence[int]): Indices of finer stage-1 levels to pool into the
            cells (e.g. ``(-2,)``: the stride-16 level next to a stride-32 ``in_index``).
            Defaults to ``()``.
        aux_channels (Sequence[int]): Channels of those levels, one per index.
        loss_weight (float): Weight of ``loss_scorer``. Defaults to 1.0.
        score_norm (str): ``'minmax'`` or ``'none'`` (the raw probabilities).
        ignore_index (int): GT value of ignored pixels. Defaults to 255.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 vis_channels: int,
                 text_channels: int,
                 in_index: int = -1,
                 embed_dim: int = 64,
                 aux_feat_indices: Sequence[int] = (),
                 aux_channels: Sequence[int] = (),
                 loss_weight: float = 1.0,
                 score_norm: str = 'minmax',
                 ignore_index: int = 255,
                 init_cfg=None) -> None:
        super().__init__(vis_channels, text_channels, in_index, init_cfg=init_cfg)
        self.score_norm = check_score_norm('LearnedScorer', score_norm)
        self._init_aux_levels(aux_feat_indices, aux_channels)
        cell_channels = vis_channels + 2 * sum(self.aux_channels)
        self.vis_embed = nn.Sequential(
            nn.Conv2d(cell_channels, embed_dim, 1), nn.ReLU(inplace=True),
            nn.Conv2d(embed_dim, embed_dim, 1))
        self.text_embed = nn.Sequential(
            nn.Linear(text_channels, embed_dim), nn.ReLU(inplace=True),
            nn.Linear(embed_dim, embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(10.0))
        self.logit_bias = nn.Parameter(torch.tensor(-2.0))
        self.loss_weight = float(loss_weight)
        self.ignore_index = ignore_index

    def _init_aux_levels(self, indices: Sequence[int], channels: Sequence[int]) -> None:
        """Check and keep the finer levels' indices and widths."""
        indices, channels = tuple(indices), tuple(channels)
        if len(indices) != len(channels) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in indices + channels) \
                or any(c <= 0 for c in channels):
            raise ValueError(f'LearnedScorer: aux_feat_indices and aux_channels must be ints, '
                             f'one positive width per index, got {indices!r} and '
                             f'{channels!r}.')
        self.aux_feat_indices = indices
        self.aux_channels = channels

    @property
    def feat_indices(self) -> Tuple[int, ...]:
        """tuple[int]: The scored level and the finer levels pooled into its cells."""
        return (self.in_index, ) + self.aux_feat_indices

    def _cells(self, feats: Sequence[Tensor]) -> Tensor:
        """The scored level with the finer levels pooled to its grid, float32 and detached."""
        vis_feat = self._transform_inputs(feats)
        cells: List[Tensor] = [vis_feat.detach().float()]
        grid = vis_feat.shape[-2:]
        for index, width in zip(self.aux_feat_indices, self.aux_channels):
            try:
                level = feats[index]
            except IndexError:
                raise ValueError(f'LearnedScorer: aux_feat_indices has {index}, but stage 1 '
                                 f'has {len(feats)} feature levels.') from None
            if level is None or level.dim() != 4 or level.shape[1] != width or \
                    level.shape[0] != vis_feat.shape[0] or level.shape[-2] < grid[0] or \
                    level.shape[-1] < grid[1]:
                shape = None if level is None else tuple(level.shape)
                raise ValueError(f'LearnedScorer: level {index} must be [B, {width}, h, w] '
                                 f'with h, w at least the cell grid {tuple(grid)}, got '
                                 f'{shape}; set aux_channels to its width.')
            level = level.detach().float()
            cells += [F.adaptive_max_pool2d(level, grid), F.adaptive_avg_pool2d(level, grid)]
        return torch.cat(cells, dim=1)

    def forward(self, feats: Sequence[Tensor], text_feat: Tensor, text_mask: Tensor,
                data_samples: OptSampleList = None,
                image_size: Optional[Tuple[int, int]] = None,
                seg_logits: Optional[Tensor] = None) -> Tensor:
        """``[B, 1, h, w]`` alignment logits (float32)."""
        cells = self._cells(feats)
        vis = F.normalize(self.vis_embed(cells), dim=1)  # [B, D, h, w]
        sentence = sentence_feature(text_feat.detach().float(), text_mask)
        text = F.normalize(self.text_embed(sentence), dim=-1)  # [B, D]
        cos = torch.einsum('bdhw,bd->bhw', vis, text)[:, None]
        return self.logit_scale * cos + self.logit_bias

    def scores(self, out: Tensor) -> Tensor:
        """``sigmoid`` of the logits (the probability that a cell holds the object), rescaled
        per image with ``score_norm='minmax'``; detached."""
        return score_normed(out.detach().sigmoid(), self.score_norm)

    def loss_by_feat(self, out: Tensor, data_samples: OptSampleList = None,
                     image_size: Optional[Tuple[int, int]] = None) -> Dict[str, Tensor]:
        """``loss_scorer``: BCE of the cell logits ``out`` against the GT cells."""
        if image_size is None:
            raise ValueError('LearnedScorer.loss_by_feat needs the image size '
                             '(AlignmentAwareMasking passes it).')
        gt = gt_masks(data_samples, image_size, out.device, required_by='LearnedScorer')
        grid = out.shape[-2:]
        valid = gt != self.ignore_index
        target = F.adaptive_max_pool2d((valid & (gt != 0)).float()[:, None], grid)
        cell_valid = F.adaptive_max_pool2d(valid.float()[:, None], grid) > 0
        loss = F.binary_cross_entropy_with_logits(out, target, reduction='none')
        loss = (loss * cell_valid).sum() / cell_valid.sum().clamp(min=1)
        return dict(loss_scorer=self.loss_weight * loss)
