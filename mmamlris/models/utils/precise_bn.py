# Copyright (c) mmamlris contributors. All rights reserved.
"""Recompute the running statistics of a model's BatchNorm layers on chosen images."""
from typing import Iterable, List

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['batch_norms', 'recompute_bn_statistics']


def batch_norms(model: nn.Module) -> List[_BatchNorm]:
    """The BatchNorm layers of ``model`` that keep running statistics."""
    return [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


def recompute_bn_statistics(model: nn.Module, batches: Iterable[dict], num_batches: int) -> int:
    """Replace the running mean and variance of every BatchNorm layer by their average over
    ``num_batches`` batches, everything else untouched ("precise BN").

    The model runs its test forward (``model.test_step``: no augmentation, no AML step) with
    only the BatchNorm layers in training mode, so each layer normalises by the batch and
    accumulates an equal-weight average of the batch means and variances (``momentum=None``).
    What a training run leaves in the buffers is an exponential average over the images it
    trained on (for an AML model, clean and masked ones); this gives the statistics of the
    images passed here, e.g. the clean training images. Like every precise-BN estimate, the
    variance is the mean of the batch variances (the spread of the batch means is left out).
    A layer the test forward does not reach (a training-only branch, e.g. a learned AML
    scorer) keeps its statistics, as does every layer when ``batches`` yields nothing.

    Args:
        model (nn.Module): A model with ``test_step`` (an mmengine ``BaseModel``); its
            modes and the layers' momentum are restored afterwards.
        batches (Iterable[dict]): Batches as the data loader yields them.
        num_batches (int): How many batches to average over (fewer if ``batches`` ends).

    Returns:
        int: The number of batches averaged over.

    Raises:
        ValueError: If ``num_batches < 1``, the model has no BatchNorm layer or ``batches``
            yields nothing.
    """
    if num_batches < 1:
        raise ValueError(f'num_batches must be >= 1, got {num_batches}')
    norms = batch_norms(model)
    if not norms:
        raise ValueError('the model has no BatchNorm layer with running statistics')
    modes = {m: m.training for m in model.modules()}
    momenta = [bn.momentum for bn in norms]
    saved = [{k: v.clone() for k, v in bn.named_buffers()} for bn in norms]
    seen = 0
    try:
        model.eval()
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: every batch weighs the same
            bn.train()
        with torch.no_grad():
            for batch in batches:
                if seen == num_batches:
                    break
                model.test_step(batch)
                seen += 1
    finally:
        for bn, momentum, buffers in zip(norms, momenta, saved):
            bn.momentum = momentum
            if seen == 0 or int(bn.num_batches_tracked) == 0:  # not reached: as it was
                for name, value in buffers.items():
                    getattr(bn, name).copy_(value)
        for module, training in modes.items():
            module.training = training
    if seen == 0:
        raise ValueError('no batch to average over')
    return seen
