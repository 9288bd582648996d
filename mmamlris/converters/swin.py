# Copyright (c) mmamlris contributors. All rights reserved.
"""The official Swin Transformer's weights (as CARIS and LAVT ship them) -> mmseg's
``SwinTransformer`` names and channel order."""
import re
from typing import Dict, Optional

from torch import Tensor

from .renames import first_rename

__all__ = ['SWIN_RENAMES', 'count_indices', 'detect_swin_config', 'merging_to_mmseg',
           'rename_swin_key', 'swin_tensor_to_mmseg']

# Regular expressions on a key inside the backbone, first match wins.
SWIN_RENAMES = (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.', r'stages.\1.blocks.\2.attn.w_msa.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.', r'stages.\1.blocks.\2.ffn.layers.0.0.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.', r'stages.\1.blocks.\2.ffn.layers.1.'),
    (r'^layers\.(\d+)\.', r'stages.\1.'),
)
_MERGING = re.compile(r'^stages\.\d+\.downsample\.(reduction\.weight|norm\.)')


def rename_swin_key(key: str) -> Optional[str]:
    """mmseg's name of an official Swin key (inside the backbone), or None if no rule fits."""
    return first_rename(key, SWIN_RENAMES)


def merging_to_mmseg(tensor: Tensor) -> Tensor:
    """Reorder the 4C channels of a patch-merging ``reduction`` weight or ``norm``.

    Official index ``k * C + c`` (neighbour ``k`` in (0,0), (1,0), (0,1), (1,1) order),
    mmseg's ``c * 4 + m`` (neighbour ``m`` in (0,0), (0,1), (1,0), (1,1) order).
    """
    *rest, four_c = tensor.shape
    blocks = tensor.reshape(*rest, 4, four_c // 4)[..., [0, 2, 1, 3], :]
    return blocks.transpose(-1, -2).reshape(*rest, four_c)


def swin_tensor_to_mmseg(new_key: str, tensor: Tensor) -> Tensor:
    """The tensor under mmseg's ``new_key`` (inside the backbone): patch merging reordered."""
    return merging_to_mmseg(tensor) if _MERGING.match(new_key) else tensor


def count_indices(keys, pattern: str) -> int:
    """How many distinct values the first group of ``pattern`` takes over ``keys``."""
    return len({m.group(1) for m in (re.match(pattern, k) for k in keys) if m})


def detect_swin_config(state_dict: Dict[str, Tensor], prefix: str) -> Dict[str, object]:
    """mmseg ``SwinTransformer`` settings read off official Swin weights under ``prefix``.

    ``embed_dims`` (patch embedding rows), ``depths`` (blocks per stage), ``num_heads``
    (columns of each stage's relative position table) and ``window_size`` (its rows are
    ``(2w - 1)^2``). Empty when there is no patch embedding under ``prefix``.
    """
    if f'{prefix}patch_embed.proj.weight' not in state_dict:
        return {}
    keys = list(state_dict)
    stage = rf'^{re.escape(prefix)}layers\.'
    num_stages = count_indices(keys, stage + r'(\d+)\.')
    depths = [count_indices(keys, stage + rf'{i}\.blocks\.(\d+)\.') for i in range(num_stages)]
    table = f'{prefix}layers.{{}}.blocks.0.attn.relative_position_bias_table'
    rows = state_dict[table.format(0)].shape[0]
    return {
        'embed_dims': int(state_dict[f'{prefix}patch_embed.proj.weight'].shape[0]),
        'depths': depths,
        'num_heads': [int(state_dict[table.format(i)].shape[1]) for i in range(num_stages)],
        'window_size': (int(round(rows**0.5)) + 1) // 2,
    }
