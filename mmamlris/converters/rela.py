# Copyright (c) mmamlris contributors. All rights reserved.
"""Official ReLA (GRES) weights -> mmamlris names: the pixel decoder and the query decoder.

ReLA's detectron2 checkpoints hold ``{'model': state_dict}``; its query decoder
(``MultiScaleMaskedReferringDecoder``) sits under ``sem_seg_head.predictor.``. Its names and
ours (:class:`RegionLanguageDecoder`):

- ``RIA_layers.<i>.multihead_attn`` / ``.norm`` -> ``cross_attn_layers.<i>.attn`` / ``.norm``;
- ``RLA_vision.<i>.self_attn`` / ``.norm`` -> ``self_attn_layers.<i>.attn`` / ``.norm``;
- ``transformer_ffn_layers.<i>.linear1`` / ``linear2`` / ``norm`` -> ``ffn_layers.<i>.fc1`` /
  ``fc2`` / ``norm``;
- ``RLA_lang_att.multihead_attn`` / ``.norm`` -> ``lang_attn.attn`` / ``.norm``;
- ``lang_proj`` -> ``text_proj``, ``lang_weight`` -> ``text_gate``;
- ``nt_embed.layers.<k>`` / ``mask_embed.layers.<k>`` -> ``no_target_embed.<2k>`` /
  ``mask_embed.<2k>`` (a ``Sequential`` with ReLUs between the linears);
- ``query_feat``, ``query_embed``, ``level_embed``, ``input_proj``, ``decoder_norm``,
  ``minimap_embed``: the same names.

The pixel decoder (``sem_seg_head.pixel_decoder.``, Mask2Former's ``MSDeformAttnPixelDecoder``)
becomes mmdet's ``MSDeformAttnPixelDecoder``: ``input_proj.<i>.0`` / ``.1`` ->
``input_convs.<i>.conv`` / ``.gn`` (both coarsest level first), ``transformer.level_embed`` ->
``level_encoding.weight``, each encoder layer's ``norm1`` / ``linear1`` / ``linear2`` /
``norm2`` -> ``norms.0`` / ``ffn.layers.0.0`` / ``ffn.layers.1`` / ``norms.1``,
``adapter_1`` / ``layer_1`` -> ``lateral_convs.0`` / ``output_convs.0`` (conv, ``norm`` ->
``gn``), ``mask_features`` -> ``mask_feature``.
"""
import re
from typing import Dict, Tuple

from torch import Tensor

__all__ = ['RELA_DECODER_RENAMES', 'RELA_PIXEL_DECODER_RENAMES', 'convert_rela_decoder',
           'convert_rela_pixel_decoder']

# Regular expressions on a key inside the decoder, first match wins.
RELA_DECODER_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r'^RIA_layers\.(\d+)\.multihead_attn\.', r'cross_attn_layers.\1.attn.'),
    (r'^RIA_layers\.(\d+)\.norm\.', r'cross_attn_layers.\1.norm.'),
    (r'^RLA_vision\.(\d+)\.self_attn\.', r'self_attn_layers.\1.attn.'),
    (r'^RLA_vision\.(\d+)\.norm\.', r'self_attn_layers.\1.norm.'),
    (r'^transformer_ffn_layers\.(\d+)\.linear1\.', r'ffn_layers.\1.fc1.'),
    (r'^transformer_ffn_layers\.(\d+)\.linear2\.', r'ffn_layers.\1.fc2.'),
    (r'^transformer_ffn_layers\.(\d+)\.norm\.', r'ffn_layers.\1.norm.'),
    (r'^RLA_lang_att\.multihead_attn\.', 'lang_attn.attn.'),
    (r'^RLA_lang_att\.norm\.', 'lang_attn.norm.'),
    (r'^lang_proj\.', 'text_proj.'),
    (r'^lang_weight$', 'text_gate'),
    (r'^(query_feat|query_embed|level_embed|input_proj|decoder_norm|minimap_embed)\.', r'\1.'),
)
_MLP = re.compile(r'^(nt_embed|mask_embed)\.layers\.(\d+)\.')
_MLP_NAMES = {'nt_embed': 'no_target_embed', 'mask_embed': 'mask_embed'}


def _rename(key: str) -> str:
    match = _MLP.match(key)
    if match:
        return (f'{_MLP_NAMES[match.group(1)]}.{2 * int(match.group(2))}.'
                + key[match.end():])
    for pattern, repl in RELA_DECODER_RENAMES:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    raise KeyError(f'{key!r} belongs to no part of ReLA\'s query decoder.')


def convert_rela_decoder(state_dict: Dict[str, Tensor],
                         prefix: str = 'sem_seg_head.predictor.') -> Dict[str, Tensor]:
    """The :class:`RegionLanguageDecoder` weights of an official
    ``MultiScaleMaskedReferringDecoder``.

    Args:
        state_dict (dict): Official weights.
        prefix (str): The decoder's prefix in them.

    Returns:
        dict: Weights that ``RegionLanguageDecoder.load_state_dict(..., strict=True)`` takes.

    Raises:
        KeyError: If a key under ``prefix`` belongs to no part of the decoder.
    """
    return {_rename(k[len(prefix):]): v for k, v in state_dict.items() if k.startswith(prefix)}


# Regular expressions on a key inside the pixel decoder, first match wins.
RELA_PIXEL_DECODER_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r'^input_proj\.(\d+)\.0\.', r'input_convs.\1.conv.'),
    (r'^input_proj\.(\d+)\.1\.', r'input_convs.\1.gn.'),
    (r'^transformer\.level_embed$', 'level_encoding.weight'),
    (r'^transformer\.encoder\.layers\.(\d+)\.self_attn\.', r'encoder.layers.\1.self_attn.'),
    (r'^transformer\.encoder\.layers\.(\d+)\.norm1\.', r'encoder.layers.\1.norms.0.'),
    (r'^transformer\.encoder\.layers\.(\d+)\.norm2\.', r'encoder.layers.\1.norms.1.'),
    (r'^transformer\.encoder\.layers\.(\d+)\.linear1\.', r'encoder.layers.\1.ffn.layers.0.0.'),
    (r'^transformer\.encoder\.layers\.(\d+)\.linear2\.', r'encoder.layers.\1.ffn.layers.1.'),
    (r'^adapter_(\d+)\.norm\.', lambda m: f'lateral_convs.{int(m.group(1)) - 1}.gn.'),
    (r'^adapter_(\d+)\.', lambda m: f'lateral_convs.{int(m.group(1)) - 1}.conv.'),
    (r'^layer_(\d+)\.norm\.', lambda m: f'output_convs.{int(m.group(1)) - 1}.gn.'),
    (r'^layer_(\d+)\.', lambda m: f'output_convs.{int(m.group(1)) - 1}.conv.'),
    (r'^mask_features\.', 'mask_feature.'),
)


def convert_rela_pixel_decoder(state_dict: Dict[str, Tensor],
                               prefix: str = 'sem_seg_head.pixel_decoder.'
                               ) -> Dict[str, Tensor]:
    """The weights of mmdet's ``MSDeformAttnPixelDecoder`` from ReLA's pixel decoder.

    Raises:
        KeyError: If a key under ``prefix`` belongs to no part of the pixel decoder.
    """
    out = {}
    for key, tensor in state_dict.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        for pattern, repl in RELA_PIXEL_DECODER_RENAMES:
            if re.match(pattern, rest):
                out[re.sub(pattern, repl, rest, count=1)] = tensor
                break
        else:
            raise KeyError(f'{key!r} belongs to no part of ReLA\'s pixel decoder.')
    return out
