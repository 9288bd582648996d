# Copyright (c) mmamlris contributors. All rights reserved.
"""The trained (not averaged) weights of a checkpoint that mmengine's ``EMAHook`` wrote."""
import os
from typing import Dict

import torch
from torch import Tensor

from .errors import InputValueError

__all__ = ['ema_source_weights', 'write_ema_source_weights']


def ema_source_weights(checkpoint: dict, name: str = 'checkpoint') -> Dict[str, Tensor]:
    """The weights the optimiser trained, from a checkpoint saved with ``EMAHook``.

    ``EMAHook`` swaps the two weight sets before saving, so that the checkpoint deploys the
    averaged model: ``state_dict`` holds the **averaged** weights and ``ema_state_dict`` the
    trained ones, under ``module.`` (beside the hook's ``steps`` counter).

    Args:
        checkpoint (dict): A loaded checkpoint.
        name (str): Named in the error message (e.g. the file).

    Returns:
        dict[str, Tensor]: The trained weights, with the keys of ``state_dict``.

    Raises:
        InputValueError: If the checkpoint has no ``ema_state_dict`` or its keys do not match.
    """
    ema = checkpoint.get('ema_state_dict')
    if ema is None:
        raise InputValueError(f'{name}: no ema_state_dict; it was not saved by a run with '
                              "mmengine's EMAHook.")
    weights = {k[len('module.'):]: v for k, v in ema.items() if k.startswith('module.')}
    if set(weights) != set(checkpoint.get('state_dict', {})):
        raise InputValueError(f'{name}: ema_state_dict and state_dict hold different keys; '
                              'not a checkpoint of one EMAHook run.')
    return weights


def write_ema_source_weights(src: str, dst: str) -> str:
    """Write the trained weights of ``src`` (see :func:`ema_source_weights`) as a checkpoint
    of their own (``state_dict`` and ``meta``) to ``dst``, atomically; returns ``dst``."""
    checkpoint = torch.load(src, map_location='cpu', weights_only=False)
    weights = ema_source_weights(checkpoint, src)
    tmp = f'{dst}.tmp-{os.getpid()}'
    torch.save(dict(state_dict=weights, meta=checkpoint.get('meta', {})), tmp)
    os.replace(tmp, dst)
    return dst
