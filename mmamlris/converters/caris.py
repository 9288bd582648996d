# Copyright (c) mmamlris contributors. All rights reserved.
"""Official CARIS / AMLRIS checkpoints -> the state dict of mmamlris's ``AMLSegmentor``.

The official ``train.py`` of CARIS (and of AMLRIS, which is CARIS plus AML) saves
``dict(model=..., optimizer=..., epoch=..., args=argparse.Namespace, lr_scheduler=...,
scaler=...)``; only ``model`` matters here. Its layout and ours:

===============================================  ============================================
official                                         mmamlris
===============================================  ============================================
``backbone.vis_encoder.*`` (Swin, original keys) ``backbone.*`` (mmseg ``SwinTransformer``)
``backbone.lang_encoder.*`` (BERT)               ``text_encoder.model.*`` (``HFTextEncoder``)
``backbone.conditional_prompts.*``               ``decode_head.conditional_prompt.*``
``pixel_decoder.*``                              ``decode_head.*`` (``CARISHead``)
``aug.text_proj.*`` (AMLRIS, never trained)      ``aml.scorer.text_proj_{weight,bias}``
``aug.fuse_gate.*`` (AMLRIS, unused)             dropped
``criterion.seg_criterion.weight``               dropped (the loss config has the weights)
===============================================  ============================================

Traps (each one loads without an error and gives wrong outputs if missed):

* the official decoder layer applies ``v_norm2`` after the language-to-vision attention,
  ``v_norm1`` after the deformable attention and ``v_norm3`` after the FFN; our
  ``vis_norms`` are numbered in the order they are applied, so ``v_norm2 -> vis_norms.0``,
  ``v_norm1 -> vis_norms.1``, ``v_norm3 -> vis_norms.2``;
* ``gamma_v2l`` / ``gamma_l2v`` are ``(1, 1, C)`` there and ``(C,)`` here;
* Swin's patch merging concatenates the 2x2 neighbours as (0,0), (1,0), (0,1), (1,1) blocks
  of channels, mmseg's (``nn.Unfold``) channel-major over (0,0), (0,1), (1,0), (1,1): the
  ``reduction`` weight and the merging ``norm`` are permuted accordingly.
"""
import re
from typing import Dict, List, Optional, Tuple

from torch import Tensor

from mmamlris.utils.errors import InputValueError
from .official_checkpoint import Conversion, read_official_checkpoint, tensor_dict
from .swin import SWIN_RENAMES, count_indices, detect_swin_config, swin_tensor_to_mmseg

__all__ = [
    'CARISConversion', 'convert_caris_state_dict', 'detect_caris_config',
    'load_official_checkpoint'
]

# (official, ours) prefixes, longest first within each family.
_PREFIXES = (
    ('backbone.vis_encoder.', 'backbone.'),
    ('backbone.lang_encoder.', 'text_encoder.model.'),
    ('backbone.conditional_prompts.', 'decode_head.conditional_prompt.'),
    ('pixel_decoder.', 'decode_head.'),
)
# Renames inside each family (regular expressions on the key after the prefix).
_PROMPT = (
    (r'^lang_prompts\.', 'prompt_embed.'),
    (r'^lang_prompts_norm\.', 'norm.'),
)
_DECODER = (
    (r'^level_encoding\.', 'level_embed.'),
    (r'^lang_in_linear\.', 'text_proj.'),
    (r'^lang_in_norm\.', 'text_norm.'),
    (r'^encoder\.(\d+)\.v2l_cross_attn\.', r'layers.\1.v2l_attn.'),
    (r'^encoder\.(\d+)\.l2v_cross_attn\.', r'layers.\1.l2v_attn.'),
    (r'^encoder\.(\d+)\.(vis|lang)_mlp\.fc1\.', r'layers.\1.\2_ffn.0.'),
    (r'^encoder\.(\d+)\.(vis|lang)_mlp\.fc2\.', r'layers.\1.\2_ffn.3.'),
    # applied order: v_norm2 (after l2v attention), v_norm1 (deformable), v_norm3 (FFN)
    (r'^encoder\.(\d+)\.v_norm2\.', r'layers.\1.vis_norms.0.'),
    (r'^encoder\.(\d+)\.v_norm1\.', r'layers.\1.vis_norms.1.'),
    (r'^encoder\.(\d+)\.v_norm3\.', r'layers.\1.vis_norms.2.'),
    (r'^encoder\.(\d+)\.l_norm([123])\.', None),  # l_norm{k} -> lang_norms.{k-1}
    (r'^encoder\.(\d+)\.', r'layers.\1.'),
)
_RENAMES = {'backbone.': SWIN_RENAMES, 'decode_head.conditional_prompt.': _PROMPT,
            'decode_head.': _DECODER, 'text_encoder.model.': ()}
#: Official keys that have no counterpart, with the reason printed by the converter.
_DROPPED = (
    ('criterion.', 'the loss weights live in the loss config (CE [0.9, 1.1])'),
    ('aug.fuse_gate.', 'created by the released AMLRIS code and never used'),
    ('backbone.lang_encoder.pooler.', 'BERT pooler, unused by CARIS'),
)
_AML_PROJ = {'aug.text_proj.weight': 'aml.scorer.text_proj_weight',
             'aug.text_proj.bias': 'aml.scorer.text_proj_bias'}


CARISConversion = Conversion  # the same record for every model; the name kept for imports


def load_official_checkpoint(path: str) -> Dict[str, Tensor]:
    """The ``model`` state dict of an official CARIS / AMLRIS checkpoint.

    Loaded with ``weights_only=True`` (:func:`read_official_checkpoint`). A plain state dict
    (no ``model`` key) is accepted too.

    Raises:
        InputFileNotFoundError: If ``path`` does not exist.
        InputValueError: If the file is not a readable checkpoint or holds no CARIS state
            dict.
    """
    state = tensor_dict(path, read_official_checkpoint(path, 'CARIS/AMLRIS'), 'model')
    if not any(k.startswith('pixel_decoder.') for k in state):
        raise InputValueError(f'{path}: no pixel_decoder.* keys; this is not a CARIS/AMLRIS '
                              f'checkpoint (first keys: {list(state)[:3]}).')
    return state


def _rename(key: str) -> Optional[str]:
    """Our key for an official one (``None``: no known part of the model)."""
    for old, new in _PREFIXES:
        if key.startswith(old):
            rest = key[len(old):]
            for pattern, repl in _RENAMES[new]:
                match = re.match(pattern, rest)
                if match:
                    if repl is None:  # l_norm{k} -> lang_norms.{k-1}
                        repl = f'layers.{match.group(1)}.lang_norms.{int(match.group(2)) - 1}.'
                    rest = re.sub(pattern, repl, rest, count=1)
                    break
            return new + rest
    return None


def convert_caris_state_dict(state_dict: Dict[str, Tensor]) -> CARISConversion:
    """Map an official CARIS / AMLRIS ``model`` state dict onto ``AMLSegmentor``'s keys.

    Args:
        state_dict (dict[str, Tensor]): As :func:`load_official_checkpoint` returns it.

    Returns:
        CARISConversion: The converted tensors (float tensors copied), what was dropped and
        why, and the settings read off the weights.

    Raises:
        InputValueError: If a key belongs to no known part of the official model.
    """
    out: Dict[str, Tensor] = {}
    dropped: List[Tuple[str, str]] = []
    unknown = []
    for key, tensor in state_dict.items():
        reason = next((why for prefix, why in _DROPPED if key.startswith(prefix)), None)
        if reason is not None:
            dropped.append((key, reason))
            continue
        if key in _AML_PROJ:
            out[_AML_PROJ[key]] = tensor.clone()
            continue
        new = _rename(key)
        if new is None:
            unknown.append(key)
            continue
        tensor = tensor.clone()
        if new.startswith('backbone.'):
            tensor = swin_tensor_to_mmseg(new[len('backbone.'):], tensor)
        elif re.search(r'\.gamma_(v2l|l2v)$', new):
            tensor = tensor.reshape(-1)
        out[new] = tensor
    if unknown:
        raise InputValueError(f'{len(unknown)} keys belong to no part of the official CARIS '
                              f'model (e.g. {unknown[:3]}); is this a CARIS/AMLRIS checkpoint?')
    return CARISConversion(out, dropped, detect_caris_config(state_dict))


def detect_caris_config(state_dict: Dict[str, Tensor]) -> Dict[str, object]:
    """Model settings that the official weights determine, as ``--cfg-options`` keys.

    Swin: ``embed_dims``, ``depths``, ``num_heads`` (columns of each stage's relative position
    table), ``window_size`` (its rows are ``(2w - 1)^2``); the text width and depth; the
    decoder's width, layers, attention / FFN widths, visual and conditional prompt counts.
    Head counts of the decoder are not stored in the weights and are not reported.
    """
    keys = list(state_dict)
    swin = 'backbone.vis_encoder.'
    cfg: Dict[str, object] = {}
    swin_cfg = detect_swin_config(state_dict, swin)
    if swin_cfg:
        cfg.update({f'model.backbone.{k}': v for k, v in swin_cfg.items()})
        embed, num_stages = swin_cfg['embed_dims'], len(swin_cfg['depths'])
        cfg['model.decode_head.in_channels'] = [embed * 2**i for i in range(num_stages)]
    bert = 'backbone.lang_encoder.'
    if f'{bert}embeddings.word_embeddings.weight' in state_dict:
        width = int(state_dict[f'{bert}embeddings.word_embeddings.weight'].shape[1])
        cfg['model.decode_head.text_channels'] = width
        cfg['text hidden size / layers'] = (
            width, count_indices(keys, rf'^{re.escape(bert)}encoder\.layer\.(\d+)\.'))
    dec = 'pixel_decoder.'
    cfg.update({
        'model.decode_head.channels': int(state_dict[f'{dec}level_encoding.weight'].shape[1]),
        'model.decode_head.num_deform_levels':
            int(state_dict[f'{dec}level_encoding.weight'].shape[0]),
        'model.decode_head.num_layers': count_indices(keys, rf'^{dec}encoder\.(\d+)\.'),
        'model.decode_head.attn_inner_channels':
            int(state_dict[f'{dec}encoder.0.v2l_cross_attn.q_proj.weight'].shape[0]),
        'model.decode_head.ffn_channels':
            int(state_dict[f'{dec}encoder.0.vis_mlp.fc1.weight'].shape[0]),
        'model.decode_head.num_vis_prompts':
            int(state_dict[f'{dec}vis_prompts.weight'].shape[0])
            if f'{dec}vis_prompts.weight' in state_dict else 0,
    })
    prompts = 'backbone.conditional_prompts.lang_prompts.weight'
    cfg['model.decode_head.num_text_prompts'] = (
        int(state_dict[prompts].shape[0]) if prompts in state_dict else 0)
    return cfg
