# Copyright (c) mmamlris contributors. All rights reserved.
"""Official LAVT weights -> mmamlris names: the fusion of one stage (the building block of the
full LAVT converter)."""
from typing import Dict, Tuple

from torch import Tensor

__all__ = ['LAVT_FUSION_RENAMES', 'convert_lavt_fusion']

# official (inside ``backbone.layers.<i>.``) -> PixelWordFusion; the official 1x1 Conv1d
# weights ``[out, in, 1]`` become Linear weights ``[out, in]``.
LAVT_FUSION_RENAMES: Tuple[Tuple[str, str], ...] = (
    ('fusion.vis_project.0.', 'vis_project.0.'),
    ('fusion.image_lang_att.f_query.0.', 'attention.query.'),
    ('fusion.image_lang_att.f_key.0.', 'attention.key.'),
    ('fusion.image_lang_att.f_value.0.', 'attention.value.'),
    ('fusion.image_lang_att.W.0.', 'attention.out.'),
    ('fusion.project_mm.0.', 'project.0.'),
    ('res_gate.0.', 'gate.0.'),
    ('res_gate.2.', 'gate.2.'),
)


def convert_lavt_fusion(state_dict: Dict[str, Tensor], prefix: str = '',
                        renames: Tuple[Tuple[str, str], ...] = LAVT_FUSION_RENAMES
                        ) -> Dict[str, Tensor]:
    """The :class:`PixelWordFusion` weights of one official ``MMBasicLayer``.

    Args:
        state_dict (dict): Official weights (e.g. a checkpoint's ``model``).
        prefix (str): The layer's prefix in it, e.g. ``'backbone.layers.0.'``.
        renames (tuple): ``(official, ours)`` name prefixes.

    Returns:
        dict: Weights that ``PixelWordFusion.load_state_dict(..., strict=True)`` takes.

    Raises:
        KeyError: If a tensor the fusion needs is missing under ``prefix``.
    """
    out = {}
    for old, new in renames:
        names = [k for k in state_dict if k.startswith(prefix + old)]
        if not names:
            raise KeyError(f'LAVT checkpoint: no tensor under {prefix + old!r}.')
        for key in names:
            tensor = state_dict[key]
            if tensor.dim() == 3 and tensor.shape[-1] == 1:  # Conv1d(k=1) -> Linear
                tensor = tensor[..., 0]
            out[new + key[len(prefix + old):]] = tensor
    return out
