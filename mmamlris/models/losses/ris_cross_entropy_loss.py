# Copyright (c) mmamlris contributors. All rights reserved.
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmamlris.registry import MODELS


@MODELS.register_module()
class RISCrossEntropyLoss(nn.Module):
    """Class-weighted cross-entropy of RIS logits, averaged as CARIS and PyTorch do.

    Two-channel logits: ``F.cross_entropy(weight=class_weight, ignore_index=...)``, i.e. the
    weighted mean ``Σ w_y ℓ / Σ w_y`` over the pixels that are not ignored — exactly the loss of
    CARIS and the official AMLRIS code (weights [0.9 background, 1.1 object]). One-channel
    logits: binary cross-entropy with the same weighted mean.

    mmseg 1.2.2's ``CrossEntropyLoss`` computes the same mean with ``avg_non_ignore=True`` but
    indexes ``class_weight`` with the raw labels, so it raises ``IndexError`` as soon as a label
    is the ignore index (255, e.g. the GT padding of ``RISDataPreProcessor``); this loss handles
    ignored pixels and never synchronises with the host.

    Args:
        class_weight (Sequence[float], optional): ``[w_background, w_object]``. Defaults to
            None (all 1).
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name in the loss dict; must start with ``loss_``.
    """

    def __init__(self, class_weight: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0, loss_name: str = 'loss_ce') -> None:
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}.')
        if class_weight is not None and len(class_weight) != 2:
            raise ValueError('class_weight must be [w_background, w_object], got '
                             f'{list(class_weight)}.')
        self.class_weight = None if class_weight is None else list(map(float, class_weight))
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                ignore_index: int = 255, **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits ``[B, C, H, W]``, C = 2 (softmax) or 1 (sigmoid).
            target (Tensor): Labels ``[B, H, W]`` in {0, 1, ignore_index}.
            weight (Tensor, optional): Unused (mmseg passes the sampler's pixel weights).
            ignore_index (int): Label of ignored pixels. Defaults to 255.

        Returns:
            Tensor: The weighted scalar loss.
        """
        class_weight = None
        if self.class_weight is not None:
            class_weight = pred.new_tensor(self.class_weight, dtype=torch.float32)
        if pred.shape[1] == 2:
            loss = F.cross_entropy(pred.float(), target.long(), weight=class_weight,
                                   ignore_index=ignore_index)
        elif pred.shape[1] == 1:
            valid = (target != ignore_index).float()
            gt = (target == 1).float()
            pixel_w = valid if class_weight is None else \
                valid * (class_weight[0] * (1 - gt) + class_weight[1] * gt)
            bce = F.binary_cross_entropy_with_logits(pred[:, 0].float(), gt, reduction='none')
            loss = (bce * pixel_w).sum() / pixel_w.sum().clamp(min=1e-6)
        else:
            raise ValueError(f'RISCrossEntropyLoss expects 1 or 2 channels, got {pred.shape[1]}.')
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """str: The key of this loss in the loss dict."""
        return self._loss_name
