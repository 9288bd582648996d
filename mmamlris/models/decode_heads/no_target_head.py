# Copyright (c) mmamlris contributors. All rights reserved.
"""Does the expression name anything in the image? (gRefCOCO's "no target" expressions.)"""
from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmamlris.registry import MODELS
from ..utils import sentence_feature

__all__ = ['NoTargetHead']


@MODELS.register_module()
class NoTargetHead(BaseModule):
    """A small classifier that says "this expression refers to nothing here".

    ReLA predicts "no target" from its fused global feature. The decoders of mmamlris differ
    (a text encoder may be image-independent, as in the light model), so this head reads what
    every RIS decoder has: the **sentence feature** (masked mean of the token features,
    ``[B, C_t]``) and **statistics of the decoder's own object probability** (its maximum, its
    mean and the mean of its top 1 %, ``[B, 3]``); a 2-layer MLP gives the no-target logit.
    Both inputs are detached: the head learns from its own loss (``loss_no_target``, binary
    cross-entropy against the ``no_target`` metainfo, ``pos_weight`` on the no-target class)
    and changes nothing the decoder computes, except that at test time a firing head
    (``sigmoid > threshold``) empties the mask.

    Args:
        text_channels (int): ``C_t``.
        hidden_channels (int): Width of the MLP. Defaults to 128.
        loss_weight (float): Weight of ``loss_no_target``. Defaults to 1.0.
        pos_weight (float): Weight of the no-target class in the BCE. Defaults to 1.0.
        threshold (float): Probability above which the mask is emptied. Defaults to 0.5.
    """

    def __init__(self, text_channels: int, hidden_channels: int = 128,
                 loss_weight: float = 1.0, pos_weight: float = 1.0, threshold: float = 0.5,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0 < threshold < 1:
            raise ValueError(f'NoTargetHead: threshold must be in (0, 1), got {threshold}.')
        self.mlp = nn.Sequential(nn.Linear(text_channels + 3, hidden_channels),
                                 nn.ReLU(inplace=True), nn.Linear(hidden_channels, 1))
        self.loss_weight = float(loss_weight)
        self.pos_weight = float(pos_weight)
        self.threshold = float(threshold)

    @staticmethod
    def object_probability(seg_logits: Tensor) -> Tensor:
        """``[B, h*w]`` object probability of two-channel (softmax) or one-channel logits."""
        logits = seg_logits.detach().float()
        prob = logits.softmax(1)[:, 1] if logits.shape[1] == 2 else logits[:, 0].sigmoid()
        return prob.flatten(1)

    def forward(self, seg_logits: Tensor, text_feats: Tensor, text_mask: Tensor) -> Tensor:
        """The no-target logit ``[B]``."""
        sentence = sentence_feature(text_feats.detach(), text_mask)
        prob = self.object_probability(seg_logits)
        top = prob.topk(max(1, prob.shape[1] // 100), dim=1).values.mean(1)
        stats = torch.stack([prob.amax(1), prob.mean(1), top], dim=1)
        return self.mlp(torch.cat([sentence, stats], dim=1))[:, 0]

    def loss(self, logit: Tensor, no_target: Sequence[bool]) -> Dict[str, Tensor]:
        target = torch.as_tensor([bool(v) for v in no_target], dtype=torch.float32,
                                 device=logit.device)
        loss = F.binary_cross_entropy_with_logits(
            logit, target, pos_weight=torch.tensor(self.pos_weight, device=logit.device))
        return dict(loss_no_target=self.loss_weight * loss)

    def fires(self, logit: Tensor) -> Tensor:
        """``[B]`` bool: the expression is predicted to refer to nothing."""
        return logit.sigmoid() > self.threshold
