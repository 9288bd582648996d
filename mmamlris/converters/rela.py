# Copyright (c) mmamlris contributors. All rights reserved.
"""Official ReLA (GRES) weights -> mmamlris names: the region-language query decoder.

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
"""
import re
from typing import Dict, Tuple

from torch import Tensor

__all__ = ['RELA_DECODER_RENAMES', 'convert_rela_decoder']

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
