# Copyright (c) mmamlris contributors. All rights reserved.
from typing import Optional

import torch.nn as nn
from torch import Tensor

from mmamlris.registry import MODELS


@MODELS.register_module()
class RISDiceLoss(nn.Module):
    """Dice loss of the referred object, for one- or two-channel RIS logits.

    ``1 - (2 Σ p·g + eps) / (Σ p + Σ g + eps)`` per image, averaged over the batch, where ``p`` is
    the object probability (softmax channel 1 of two-channel logits, or the sigmoid of one
    channel) and ``g`` the binary GT; pixels labelled ``ignore_index`` count in neither sum.
    Unlike mmseg's ``DiceLoss``, it scores only the object (mmseg 1.2.2 mixes the background
    into the two-channel Dice and scores the background of one-channel logits), which is what
    helps with small referred objects: LAVT reports that adding Dice to CE improves RefCOCO.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        eps (float): Smoothing term. Defaults to 1.0.
        loss_name (str): Name in the loss dict; must start with ``loss_``.
    """

    def __init__(self, loss_weight: float = 1.0, eps: float = 1.0,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}.')
        self.loss_weight = loss_weight
        self.eps = eps
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                ignore_index: int = 255, **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits ``[B, C, H, W]``, C = 1 (sigmoid) or 2 (softmax, channel 1 =
                object).
            target (Tensor): Labels ``[B, H, W]`` in {0, 1, ignore_index}.
            weight (Tensor, optional): Unused (mmseg passes the sampler's pixel weights).
            ignore_index (int): Label of pixels to ignore. Defaults to 255.

        Returns:
            Tensor: The weighted scalar loss.
        """
        if pred.shape[1] == 1:
            prob = pred[:, 0].float().sigmoid()
        elif pred.shape[1] == 2:
            prob = pred.float().softmax(dim=1)[:, 1]
        else:
            raise ValueError(f'RISDiceLoss expects 1 or 2 channels, got {pred.shape[1]}.')
        valid = (target != ignore_index).to(prob)
        gt = (target == 1).to(prob)
        prob = prob * valid
        inter = (prob * gt).flatten(1).sum(1)
        total = prob.flatten(1).sum(1) + gt.flatten(1).sum(1)
        dice = (2 * inter + self.eps) / (total + self.eps)
        return self.loss_weight * (1 - dice).mean()

    @property
    def loss_name(self) -> str:
        """str: The key of this loss in the loss dict."""
        return self._loss_name
