# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRIS (jiaqihuang01/DETRIS) weights to mmamlris names: the adapters and the DINOv2.

An official adapter lives at ``dinov2.blocks.{i}.adapter.*`` (``DenseAligner``) or
``txt_backbone.transformer.resblocks.{i}.adapter.*`` (``TextAdapter``); inside one, the keys
map onto :class:`mmamlris.models.layers.DenseAligner` / ``DenseTextAdapter`` by
:data:`DETRIS_ADAPTER_RENAMES`. :func:`convert_detris_dinov2` maps DINOv2's own layout (the
one DETRIS vendors and ``dinov2_vitb14_reg4_pretrain.pth`` uses) onto
:class:`mmamlris.models.backbones.DETRISDinov2` (``transformers``' names under ``model.``,
the aligners under ``aligners.{i}.``) and :func:`convert_detris_clip_text` CLIP's text tower
(``txt_backbone.*``) onto :class:`mmamlris.models.text_encoders.DETRISCLIPText`. The
whole-model converter builds on these.
"""
import re
from typing import Dict, Optional, Tuple

from torch import Tensor

__all__ = ['DETRIS_ADAPTER_RENAMES', 'DINOV2_RENAMES', 'CLIP_TEXT_RENAMES',
           'DETRIS_HEAD_RENAMES', 'convert_detris_adapter', 'convert_detris_clip_text',
           'convert_detris_dinov2', 'convert_detris_head', 'convert_detris_text_projection',
           'rename_detris_adapter_key']

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


def _first_rename(key: str, renames: Tuple[Tuple[str, str], ...]) -> Optional[str]:
    """``key`` rewritten by the first of ``renames`` whose pattern matches, else None."""
    for pattern, repl in renames:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    return None


def rename_detris_adapter_key(key: str) -> str:
    """Our name of one key of an official ``DenseAligner`` / ``TextAdapter``."""
    renamed = _first_rename(key, DETRIS_ADAPTER_RENAMES)
    if renamed is not None:
        return renamed
    raise KeyError(f'{key!r} belongs to no part of a DETRIS adapter.')


def convert_detris_adapter(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """One official adapter's state dict with our keys (same tensors)."""
    return {rename_detris_adapter_key(k): v for k, v in state_dict.items()}


# DINOv2's keys (facebookresearch layout) to transformers' Dinov2WithRegistersModel; the
# fused ``attn.qkv`` is split into ``q_proj``, ``k_proj``, ``v_proj`` (rows in that order).
DINOV2_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r'^(cls_token|register_tokens|mask_token)$', r'embeddings.\1'),
    (r'^pos_embed$', 'embeddings.position_embeddings'),
    (r'^patch_embed\.proj\.', 'embeddings.patch_embeddings.projection.'),
    (r'^blocks\.(\d+)\.norm(1|2)\.', r'encoder.layer.\1.norm\2.'),
    (r'^blocks\.(\d+)\.attn\.proj\.', r'encoder.layer.\1.attention.o_proj.'),
    (r'^blocks\.(\d+)\.ls(1|2)\.gamma$', r'encoder.layer.\1.layer_scale\2.lambda1'),
    (r'^blocks\.(\d+)\.mlp\.(fc1|fc2)\.', r'encoder.layer.\1.mlp.\2.'),
    (r'^norm\.', 'layernorm.'),
)
_QKV = re.compile(r'^blocks\.(\d+)\.attn\.qkv\.(weight|bias)$')
_ADAPTER = re.compile(r'^blocks\.(\d+)\.adapter\.(.+)$')


def _convert_tower(state_dict: Dict[str, Tensor], renames: Tuple[Tuple[str, str], ...],
                   fused: Tuple[re.Pattern, str], adapter: Tuple[re.Pattern, str],
                   what: str) -> Dict[str, Tensor]:
    """A frozen transformer's keys, under ``model.``: a fused q/k/v projection split into
    three (``fused``: its pattern, the target with ``{index}``, ``{name}``, ``{kind}``), the
    adapters of the blocks (``adapter``: their pattern, the target prefix with ``{index}``),
    the rest renamed by ``renames``."""
    out: Dict[str, Tensor] = {}
    for key, value in state_dict.items():
        qkv, adapted = fused[0].match(key), adapter[0].match(key)
        if qkv:
            index, kind = qkv.groups()
            for name, part in zip(('q_proj', 'k_proj', 'v_proj'), value.chunk(3, dim=0)):
                out[fused[1].format(index=index, name=name, kind=kind)] = part.clone()
        elif adapted:
            index, rest = adapted.groups()
            out[adapter[1].format(index=index) + rename_detris_adapter_key(rest)] = value
        else:
            renamed = _first_rename(key, renames)
            if renamed is None:
                raise KeyError(f'{key!r} belongs to no part of DETRIS\'s {what}.')
            out['model.' + renamed] = value
    return out


def convert_detris_dinov2(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """DETRIS's ``dinov2.*`` weights (prefix removed) as :class:`DETRISDinov2` keys.

    Raises:
        KeyError: For a key of no known part (named).
    """
    return _convert_tower(
        state_dict, DINOV2_RENAMES,
        (_QKV, 'model.encoder.layer.{index}.attention.{name}.{kind}'),
        (_ADAPTER, 'aligners.{index}.'), 'DINOv2')


# CLIP's text tower (OpenAI layout, as DETRIS's txt_backbone) to the text transformer of
# transformers' CLIP (``text_model``); ``attn.in_proj_*`` is split into q / k / v.
CLIP_TEXT_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r'^token_embedding\.', 'embeddings.token_embedding.'),
    (r'^positional_embedding$', 'embeddings.position_embedding.weight'),
    (r'^transformer\.resblocks\.(\d+)\.attn\.out_proj\.',
     r'encoder.layers.\1.self_attn.out_proj.'),
    (r'^transformer\.resblocks\.(\d+)\.ln_(1|2)\.', r'encoder.layers.\1.layer_norm\2.'),
    (r'^transformer\.resblocks\.(\d+)\.mlp\.c_fc\.', r'encoder.layers.\1.mlp.fc1.'),
    (r'^transformer\.resblocks\.(\d+)\.mlp\.c_proj\.', r'encoder.layers.\1.mlp.fc2.'),
    (r'^ln_final\.', 'final_layer_norm.'),
)
_IN_PROJ = re.compile(r'^transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$')
_TEXT_ADAPTER = re.compile(r'^transformer\.resblocks\.(\d+)\.adapter\.(.+)$')


def convert_detris_clip_text(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """DETRIS's ``txt_backbone.*`` text weights (prefix removed; ``visual.*``,
    ``logit_scale`` and ``text_projection`` are not passed: the projection belongs to the
    decode head, :func:`convert_detris_text_projection`) as :class:`DETRISCLIPText` keys.

    Raises:
        KeyError: For a key of no known part (named).
    """
    if 'text_projection' in state_dict:
        raise KeyError('text_projection belongs to the decode head (DETRISHead.text_projection):'
                       ' convert it with convert_detris_text_projection.')
    return _convert_tower(
        state_dict, CLIP_TEXT_RENAMES,
        (_IN_PROJ, 'model.encoder.layers.{index}.self_attn.{name}.{kind}'),
        (_TEXT_ADAPTER, 'adapters.{index}.'), 'CLIP text tower')


def convert_detris_text_projection(projection: Tensor) -> Dict[str, Tensor]:
    """CLIP's ``text_projection`` (``x @ P``) as ``DETRISHead.text_projection`` (a Linear
    weight ``P.T``)."""
    return {'text_projection.weight': projection.t().contiguous()}


# DETRIS's neck / decoder / proj (CRIS's) onto SentenceGatedNeck, VLTransformerDecoder and
# DynamicConvProjector under ``neck.``, ``decoder.`` and ``projector.``: first the keys whose
# index changes (``nn.Sequential`` positions 0 / 1 become ``conv`` / ``bn``; the three fusion
# levels 3, 4, 5 become 0, 1, 2), then plain renames.
_CONV_BN = {'0': 'conv', '1': 'bn'}
_INDEXED_HEAD_RULES = (
    (r'^neck\.fusion(3|4|5)\.multihead_attn\.',
     lambda m: f'neck.gates.{int(m.group(1)) - 3}.'),
    (r'^neck\.f(3|4|5)_proj\.(0|1)\.',
     lambda m: f'neck.level_proj.{int(m.group(1)) - 3}.{_CONV_BN[m.group(2)]}.'),
    (r'^neck\.aggr\.(0|1)\.', lambda m: f'neck.aggr.{_CONV_BN[m.group(1)]}.'),
    (r'^neck\.coordconv\.0\.conv1\.(0|1)\.',
     lambda m: f'neck.coord_conv.0.{_CONV_BN[m.group(1)]}.'),
    (r'^neck\.coordconv\.1\.(0|1)\.', lambda m: f'neck.coord_conv.1.{_CONV_BN[m.group(1)]}.'),
    (r'^proj\.vis\.(1|3)\.(0|1)\.',
     lambda m: f'projector.vis.{m.group(1)}.{_CONV_BN[m.group(2)]}.'),
)
DETRIS_HEAD_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r'^neck\.txt_proj\.', 'neck.text_proj.'),
    (r'^decoder\.layers\.(\d+)\.multihead_attn\.', r'decoder.layers.\1.cross_attn.'),
    (r'^decoder\.', 'decoder.'),
    (r'^proj\.(vis\.4|txt)\.', r'projector.\1.'),
)


def _rename_head(key: str) -> str:
    """Our name of one key of DETRIS's ``neck.*``, ``decoder.*`` or ``proj.*``."""
    for pattern, build in _INDEXED_HEAD_RULES:
        match = re.match(pattern, key)
        if match:
            return build(match) + key[match.end():]
    renamed = _first_rename(key, DETRIS_HEAD_RENAMES)
    if renamed is not None:
        return renamed
    raise KeyError(f'{key!r} belongs to no part of DETRIS\'s neck, decoder or projector.')


def convert_detris_head(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """DETRIS's ``neck.*``, ``decoder.*`` and ``proj.*`` weights with our keys."""
    return {_rename_head(k): v for k, v in state_dict.items()}
