# Copyright (c) mmamlris contributors. All rights reserved.
"""Official LAVT weights -> mmamlris names: the fusion of one stage, and the language-aware
Swin backbone (:class:`LAVTSwinTransformer`)."""
import re
from typing import Dict, Tuple

from torch import Tensor

from .swin import rename_swin_key, swin_tensor_to_mmseg

__all__ = ['LAVT_FUSION_RENAMES', 'LAVT_DECODER_RENAMES', 'convert_lavt_fusion',
           'convert_lavt_backbone', 'convert_lavt_decoder']

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


def _renamed(state_dict: Dict[str, Tensor], prefix: str,
             renames: Tuple[Tuple[str, str], ...]) -> Dict[str, Tensor]:
    """The tensors under ``prefix + official`` of every ``(official, ours)`` pair, renamed.

    Raises:
        KeyError: If no tensor is under one of them.
    """
    out = {}
    for old, new in renames:
        names = [k for k in state_dict if k.startswith(prefix + old)]
        if not names:
            raise KeyError(f'LAVT checkpoint: no tensor under {prefix + old!r}.')
        out.update({new + k[len(prefix + old):]: state_dict[k] for k in names})
    return out


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
    out = _renamed(state_dict, prefix, renames)
    # the official 1x1 Conv1d weights [out, in, 1] -> Linear weights [out, in]
    return {k: v[..., 0] if v.dim() == 3 and v.shape[-1] == 1 else v for k, v in out.items()}


def convert_lavt_backbone(state_dict: Dict[str, Tensor], prefix: str = '') -> Dict[str, Tensor]:
    """The :class:`LAVTSwinTransformer` weights of an official ``MultiModalSwinTransformer``.

    Swin's own tensors go to ``swin.*`` under mmseg's names (patch merging reordered, as for
    CARIS); each stage's ``fusion`` and ``res_gate`` go to ``fusions.<i>.*``.

    Args:
        state_dict (dict): Official weights.
        prefix (str): The backbone's prefix in them (``'backbone.'`` in a LAVT checkpoint).

    Returns:
        dict: Weights that ``LAVTSwinTransformer.load_state_dict(..., strict=True)`` takes.
    """
    keys = [k for k in state_dict if k.startswith(prefix)]
    stages = sorted({int(m.group(1)) for k in keys
                     for m in [re.match(r'layers\.(\d+)\.fusion\.', k[len(prefix):])] if m})
    out = {}
    for i in stages:
        fusion = convert_lavt_fusion(state_dict, f'{prefix}layers.{i}.')
        out.update({f'fusions.{i}.{k}': v for k, v in fusion.items()})
    for key in keys:
        rest = key[len(prefix):]
        if re.match(r'layers\.\d+\.(fusion|res_gate)\.', rest):
            continue
        new = rename_swin_key(rest) or rest  # norm<i>, patch_embed.norm: same names
        out[f'swin.{new}'] = swin_tensor_to_mmseg(new, state_dict[key])
    return out


# official SimpleDecoding (``classifier.``) -> LAVTHead: level 4+3, then +2, then +1
LAVT_DECODER_RENAMES: Tuple[Tuple[str, str], ...] = tuple(
    (f'{kind}{step}_{level}.', f'fuse.{stage}.{step - 1}.{"conv" if kind == "conv" else "bn"}.')
    for stage, level in enumerate((4, 3, 2)) for step in (1, 2) for kind in ('conv', 'bn')
) + (('conv1_1.', 'conv_seg.'), )


def convert_lavt_decoder(state_dict: Dict[str, Tensor],
                         prefix: str = 'classifier.') -> Dict[str, Tensor]:
    """The :class:`LAVTHead` weights (BN statistics included) of an official
    ``SimpleDecoding``.

    Raises:
        KeyError: If a tensor the decoder needs is missing under ``prefix``.
    """
    return _renamed(state_dict, prefix, LAVT_DECODER_RENAMES)
