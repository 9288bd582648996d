# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRIS (jiaqihuang01/DETRIS) weights to mmamlris names: first piece, the dense adapters.

An official adapter lives at ``dinov2.blocks.{i}.adapter.*`` (``DenseAligner``) or
``txt_backbone.transformer.resblocks.{i}.adapter.*`` (``TextAdapter``); inside one, the keys
map onto :class:`mmamlris.models.layers.DenseAligner` / ``DenseTextAdapter`` by
:data:`DETRIS_ADAPTER_RENAMES`. The whole-model converter builds on this.
"""
import re
from typing import Dict, Tuple

from torch import Tensor

__all__ = ['DETRIS_ADAPTER_RENAMES', 'convert_detris_adapter', 'rename_detris_adapter_key']

# Regular expressions on a key inside one adapter, first match wins.
DETRIS_ADAPTER_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r'^D_fc1\.', 'down.'),
    (r'^D_fc2\.', 'up.'),
    (r'^dense_branch1\.', 'branches.0.'),
    (r'^dense_branch2\.', 'branches.1.'),
    (r'^dense_branch3\.', 'branches.2.'),
    (r'^cross\.image_proj\.', 'img_proj.'),
    (r'^cross\.text_proj\.', 'text_proj.'),
    (r'^cross\.multihead_attn\.', 'attn.'),
    (r'^cross\.back_proj\.', 'out_proj.'),
)


def rename_detris_adapter_key(key: str) -> str:
    """Our name of one key of an official ``DenseAligner`` / ``TextAdapter``."""
    for pattern, repl in DETRIS_ADAPTER_RENAMES:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    raise KeyError(f'{key!r} belongs to no part of a DETRIS adapter.')


def convert_detris_adapter(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """One official adapter's state dict with our keys (same tensors)."""
    return {rename_detris_adapter_key(k): v for k, v in state_dict.items()}
