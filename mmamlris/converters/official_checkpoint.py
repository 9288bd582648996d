# Copyright (c) mmamlris contributors. All rights reserved.
"""Reading the file an official RIS ``train.py`` saves (CARIS, AMLRIS, LAVT), safely."""
import argparse
import os.path as osp
from typing import Dict, List, NamedTuple, Tuple

import torch
from torch import Tensor

from mmamlris.utils.errors import InputFileNotFoundError, InputValueError

__all__ = ['Conversion', 'read_official_checkpoint', 'tensor_dict']


class Conversion(NamedTuple):
    """What every ``convert_*_state_dict`` returns: the converted weights and what did not
    carry over.

    Attributes:
        state_dict (dict[str, Tensor]): Keys of ``AMLSegmentor`` built from the model's
            configs.
        dropped (list[tuple[str, str]]): ``(official key, reason)`` of every dropped tensor.
        config (dict[str, object]): Model settings read off the weights, as ``--cfg-options``
            keys (each model's ``detect_*_config``).
    """
    state_dict: Dict[str, Tensor]
    dropped: List[Tuple[str, str]]
    config: Dict[str, object]


def read_official_checkpoint(path: str, model_name: str) -> dict:
    """The top-level dict of an official checkpoint, loaded with ``weights_only=True``.

    The ``argparse.Namespace`` that the official scripts store under ``args`` is the one extra
    type allowed.

    Args:
        path (str): The checkpoint file.
        model_name (str): Named in the error messages (e.g. ``'CARIS/AMLRIS'``).

    Raises:
        InputFileNotFoundError: If ``path`` does not exist.
        InputValueError: If the file is not a readable checkpoint or not a dict.
    """
    if not osp.isfile(path):
        raise InputFileNotFoundError(f'{path}: no such checkpoint file.')
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # a truncated file, or a pickle of other types
        raise InputValueError(
            f'{path}: not a readable checkpoint ({type(error).__name__}: '
            f'{str(error).splitlines()[0] if str(error) else ""}). Expected the file the '
            f'official {model_name} train.py saves (model, optimizer, epoch, args, ...).'
        ) from None
    if not isinstance(ckpt, dict):
        raise InputValueError(f'{path}: holds a {type(ckpt).__name__}, not the dict the '
                              f'official {model_name} train.py saves.')
    return ckpt


def tensor_dict(path: str, ckpt: dict, key: str) -> Dict[str, Tensor]:
    """``ckpt[key]`` (or ``ckpt`` itself when it has no ``key``) as a non-empty dict of tensors.

    Raises:
        InputValueError: If that is not a non-empty dict of tensors.
    """
    state = ckpt.get(key, ckpt)
    if not isinstance(state, dict) or not state or \
            not all(isinstance(v, Tensor) for v in state.values()):
        raise InputValueError(f'{path}: no state dict of tensors under "{key}" (top-level '
                              f'keys: {sorted(ckpt)[:8]}).')
    return state
