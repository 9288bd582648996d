# Copyright (c) mmamlris contributors. All rights reserved.
"""DETRIS (jiaqihuang01/DETRIS) weights to mmamlris names: adapters, towers, head, whole model.

An official adapter lives at ``dinov2.blocks.{i}.adapter.*`` (``DenseAligner``) or
``txt_backbone.transformer.resblocks.{i}.adapter.*`` (``TextAdapter``); inside one, the keys
map onto :class:`mmamlris.models.layers.DenseAligner` / ``DenseTextAdapter`` by
:data:`DETRIS_ADAPTER_RENAMES`. :func:`convert_detris_dinov2` maps DINOv2's own layout (the
one DETRIS vendors and ``dinov2_vitb14_reg4_pretrain.pth`` uses) onto
:class:`mmamlris.models.backbones.DETRISDinov2` (``transformers``' names under ``model.``,
the aligners under ``aligners.{i}.``) and :func:`convert_detris_clip_text` CLIP's text tower
(``txt_backbone.*``) onto :class:`mmamlris.models.text_encoders.DETRISCLIPText`;
:func:`convert_detris_head` the neck, decoder and projector. :func:`convert_detris_state_dict`
(a released checkpoint) and :func:`convert_detris_pretrained` (the public CLIP and DINOv2
files a training starts from) build on these.
"""
import os.path as osp
import re
import zipfile
from typing import Dict, List, Tuple

from torch import Tensor

from mmamlris.utils.errors import InputValueError
from .official_checkpoint import Conversion, read_official_checkpoint, tensor_dict
from .renames import first_rename
from .swin import count_indices

__all__ = ['DETRIS_ADAPTER_RENAMES', 'DINOV2_RENAMES', 'CLIP_TEXT_RENAMES',
           'DETRIS_HEAD_RENAMES', 'DETRISConversion', 'convert_detris_adapter',
           'convert_detris_clip_text', 'convert_detris_dinov2', 'convert_detris_head',
           'convert_detris_pretrained', 'convert_detris_state_dict',
           'convert_detris_text_projection', 'detect_detris_config', 'load_detris_checkpoint',
           'load_public_tower', 'rename_detris_adapter_key']

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
    renamed = first_rename(key, DETRIS_ADAPTER_RENAMES)
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
            renamed = first_rename(key, renames)
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
    renamed = first_rename(key, DETRIS_HEAD_RENAMES)
    if renamed is not None:
        return renamed
    raise KeyError(f'{key!r} belongs to no part of DETRIS\'s neck, decoder or projector.')


def convert_detris_head(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """DETRIS's ``neck.*``, ``decoder.*`` and ``proj.*`` weights with our keys."""
    return {_rename_head(k): v for k, v in state_dict.items()}


DETRISConversion = Conversion  # the same record for every model; the name kept for imports


# Tensors of OpenAI's CLIP checkpoint that DETRIS never uses.
_UNUSED_CLIP = (r'^visual\.', r'^logit_scale$', r'^(input_resolution|context_length|vocab_size)$')


def _clip_text_part(state_dict: Dict[str, Tensor], prefix: str,
                    dropped: List[Tuple[str, str]]) -> Dict[str, Tensor]:
    """CLIP's text tower and projection (OpenAI layout under ``prefix``) as our keys."""
    tower, projection = {}, None
    for key, value in state_dict.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if rest == 'text_projection':
            projection = value
        elif any(re.match(pattern, rest) for pattern in _UNUSED_CLIP):
            dropped.append((key, 'CLIP image tower / logit scale: unused by DETRIS'))
        else:
            tower[rest] = value
    if projection is None:
        raise InputValueError(f'no {prefix}text_projection: the CLIP text projection (the '
                              'sentence feature of the decode head) is missing.')
    out = {f'text_encoder.{k}': v.clone() for k, v in convert_detris_clip_text(tower).items()}
    out.update({f'decode_head.{k}': v.clone()
                for k, v in convert_detris_text_projection(projection).items()})
    return out


def _dinov2_part(state_dict: Dict[str, Tensor], prefix: str) -> Dict[str, Tensor]:
    """DINOv2 (Meta's layout under ``prefix``) as ``backbone.*`` keys."""
    tower = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    return {f'backbone.{k}': v.clone() for k, v in convert_detris_dinov2(tower).items()}


def _strip_module(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Keys without the ``module.`` that DistributedDataParallel adds."""
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in state_dict.items()}


def load_detris_checkpoint(path: str) -> Dict[str, Tensor]:
    """The model state dict of a DETRIS checkpoint (``{'state_dict': {'module.*'}}``, as
    DETRIS's ``train.py`` saves and releases them), ``module.`` removed.

    Raises:
        InputFileNotFoundError: If ``path`` does not exist.
        InputValueError: If the file is not a readable DETRIS checkpoint.
    """
    state = _strip_module(tensor_dict(path, read_official_checkpoint(path, 'DETRIS'),
                                      'state_dict'))
    for part in ('txt_backbone.', 'dinov2.', 'neck.', 'decoder.', 'proj.'):
        if not any(k.startswith(part) for k in state):
            raise InputValueError(f'{path}: no {part}* keys; this is not a DETRIS checkpoint '
                                  f'(first keys: {list(state)[:3]}).')
    return state


def convert_detris_state_dict(state_dict: Dict[str, Tensor]) -> DETRISConversion:
    """Map a whole DETRIS model (``txt_backbone.*``, ``dinov2.*``, ``neck.*``, ``decoder.*``,
    ``proj.*``; frozen towers and BatchNorm statistics included) onto ``AMLSegmentor``'s keys.

    Raises:
        InputValueError: If a key belongs to no known part of the official model.
    """
    state_dict = _strip_module(state_dict)
    parts = ('txt_backbone.', 'dinov2.', 'neck.', 'decoder.', 'proj.')
    unknown = [k for k in state_dict if not k.startswith(parts)]
    if unknown:
        raise InputValueError(f'{len(unknown)} keys belong to no part of the official DETRIS '
                              f'model (e.g. {unknown[:3]}); is this a DETRIS checkpoint?')
    dropped: List[Tuple[str, str]] = []
    try:
        out = _clip_text_part(state_dict, 'txt_backbone.', dropped)
        out.update(_dinov2_part(state_dict, 'dinov2.'))
        head = {k: v for k, v in state_dict.items() if k.startswith(parts[2:])}
        out.update({f'decode_head.{k}': v.clone() for k, v in convert_detris_head(head).items()})
    except KeyError as error:
        raise InputValueError(f'DETRIS checkpoint: {error.args[0]}') from None
    return DETRISConversion(out, dropped, detect_detris_config(out))


def convert_detris_pretrained(clip: Dict[str, Tensor],
                              dinov2: Dict[str, Tensor]) -> DETRISConversion:
    """The start weights of a DETRIS training from the public checkpoints DETRIS loads:
    OpenAI's CLIP (``ViT-B-16.pt``, the state dict of its TorchScript model) and Meta's DINOv2
    with registers (``dinov2_vitb14_reg4_pretrain.pth``). Only the frozen towers and the text
    projection: the adapters and the head start from their initialisation.

    Raises:
        InputValueError: If a key belongs to no known part of the two towers.
    """
    dropped: List[Tuple[str, str]] = []
    try:
        out = _clip_text_part(clip, '', dropped)
        out.update(_dinov2_part(dinov2, ''))
    except KeyError as error:
        raise InputValueError(f'DETRIS start weights: {error.args[0]}') from None
    return DETRISConversion(out, dropped, detect_detris_config(out))


def _indices(keys: List[str], pattern: str) -> List[int]:
    """The sorted distinct integers that the first group of ``pattern`` takes over ``keys``."""
    return sorted({int(m.group(1)) for m in (re.match(pattern, k) for k in keys) if m})


def detect_detris_config(state_dict: Dict[str, Tensor]) -> Dict[str, object]:
    """Model settings that converted DETRIS weights determine, as ``--cfg-options`` keys:
    DINOv2's and CLIP's widths and depths, the blocks that hold adapters and their widths,
    the head's input widths."""
    cfg: Dict[str, object] = {}
    keys = list(state_dict)
    pos = state_dict.get('backbone.model.embeddings.position_embeddings')
    if pos is not None:
        width = int(pos.shape[-1])
        cfg['model.backbone.dinov2.hidden_size'] = width
        cfg['model.backbone.dinov2.num_hidden_layers'] = count_indices(
            keys, r'^backbone\.model\.encoder\.layer\.(\d+)\.')
        cfg['model.backbone.dinov2.num_attention_heads'] = width // 64
        cfg['model.decode_head.in_channels'] = [width] * 3
    aligners = _indices(keys, r'^backbone\.aligners\.(\d+)\.')
    if aligners:
        cfg['model.backbone.adapter_layers'] = aligners
        cfg['model.backbone.adapter_channels'] = int(
            state_dict[f'backbone.aligners.{aligners[0]}.down.weight'].shape[0])
    text = state_dict.get('text_encoder.model.final_layer_norm.weight')
    if text is not None:
        cfg['model.text_encoder.clip.hidden_size'] = int(text.shape[0])
        cfg['model.text_encoder.clip.num_hidden_layers'] = count_indices(
            keys, r'^text_encoder\.model\.encoder\.layers\.(\d+)\.')
    adapters = _indices(keys, r'^text_encoder\.adapters\.(\d+)\.')
    if adapters:
        cfg['model.text_encoder.adapter_layers'] = adapters
        cfg['model.text_encoder.adapter_channels'] = int(
            state_dict[f'text_encoder.adapters.{adapters[0]}.down.weight'].shape[0])
    return cfg


def load_public_tower(path: str, what: str) -> Dict[str, Tensor]:
    """The state dict of a public tower checkpoint: OpenAI's CLIP (a TorchScript archive,
    ``ViT-B-16.pt``) or a plain state dict (Meta's ``dinov2_vitb14_reg4_pretrain.pth``, or a
    CLIP state dict), on the CPU.

    Raises:
        InputFileNotFoundError: If ``path`` does not exist.
        InputValueError: If the file holds no state dict of tensors.
    """
    import torch
    if osp.isfile(path) and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            scripted = any(name.endswith('constants.pkl') for name in archive.namelist())
        if scripted:  # TorchScript: torch.load cannot read it with weights_only
            return {k: v for k, v in torch.jit.load(path, map_location='cpu').state_dict().items()}
    return tensor_dict(path, read_official_checkpoint(path, what), 'state_dict')
