# Copyright (c) mmamlris contributors. All rights reserved.
"""Official LAVT checkpoints -> the state dict of mmamlris's ``AMLSegmentor``.

The official ``train.py`` (yz93/LAVT-RIS) saves ``dict(model=..., bert_model=..., optimizer=...,
epoch=..., args=argparse.Namespace, lr_scheduler=...)`` for the model ``lavt`` (BERT trained
beside the model) and the same without ``bert_model`` for ``lavt_one`` (BERT inside the model
as ``text_encoder.*``). The layouts:

- ``model: backbone.*`` (``MultiModalSwinTransformer``) -> ``backbone.*``
  (``LAVTSwinTransformer``: Swin under ``swin.*``, mmseg's names);
- ``model: backbone.layers.<i>.fusion.*`` and ``.res_gate.*`` -> ``backbone.fusions.<i>.*``
  (``PixelWordFusion``);
- ``model: classifier.*`` (``SimpleDecoding``) -> ``decode_head.*`` (``LAVTHead``);
- ``bert_model: *`` or ``model: text_encoder.*`` -> ``text_encoder.model.*``
  (``HFTextEncoder``); BERT's pooler is dropped (LAVT never reads it).

Traps: the PWAM's 1x1 ``Conv1d`` weights ``[out, in, 1]`` become ``Linear`` weights; Swin's
patch merging is reordered as for CARIS (``converters/swin.py``); the decoder's steps are
numbered by level there (``conv1_4`` reads levels 4 and 3) and by step here (``fuse.0``).
"""
import re
from typing import Dict, List, Optional, Tuple

from torch import Tensor

from mmamlris.utils.errors import InputValueError
from .official_checkpoint import Conversion, read_official_checkpoint, tensor_dict
from .swin import count_indices, detect_swin_config, rename_swin_key, swin_tensor_to_mmseg

__all__ = ['LAVT_FUSION_RENAMES', 'LAVT_DECODER_RENAMES', 'LAVTConversion',
           'convert_lavt_fusion', 'convert_lavt_backbone', 'convert_lavt_decoder',
           'convert_lavt_state_dict', 'detect_lavt_config', 'last_gate_keys',
           'load_lavt_checkpoint', 'rename_lavt_key']

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
        # the last stage has no gate here (its gated sum is never read): see last_gate_keys
        renames = LAVT_FUSION_RENAMES if i < stages[-1] else tuple(
            (old, new) for old, new in LAVT_FUSION_RENAMES if not old.startswith('res_gate.'))
        fusion = convert_lavt_fusion(state_dict, f'{prefix}layers.{i}.', renames)
        out.update({f'fusions.{i}.{k}': v for k, v in fusion.items()})
    for key in keys:
        rest = key[len(prefix):]
        if re.match(r'layers\.\d+\.(fusion|res_gate)\.', rest):
            continue
        new = rename_swin_key(rest) or rest  # norm<i>, patch_embed.norm: same names
        out[f'swin.{new}'] = swin_tensor_to_mmseg(new, state_dict[key])
    return out


def last_gate_keys(state_dict: Dict[str, Tensor], prefix: str = 'backbone.') -> List[str]:
    """The official keys of the last stage's language gate, which the conversion drops.

    LAVT computes a gated sum after its last stage that nothing reads (its ``train.py`` needs
    ``find_unused_parameters=True`` for it); :class:`LAVTSwinTransformer` has no gate there.
    """
    pattern = re.escape(prefix) + r'layers\.(\d+)\.fusion\.'
    stages = [int(m.group(1)) for m in (re.match(pattern, k) for k in state_dict) if m]
    if not stages:
        return []
    last = f'{prefix}layers.{max(stages)}.res_gate.'
    return [k for k in state_dict if k.startswith(last)]


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


LAVTConversion = Conversion  # the same record for every model; the name kept for imports


def rename_lavt_key(key: str) -> str:
    """Our name of one official LAVT key (``model`` keys; BERT's as ``text_encoder.*``).

    The name only: :func:`convert_lavt_state_dict` also reshapes and reorders tensors.

    Raises:
        KeyError: If the key belongs to no known part of the model.
    """
    def renamed(rest: str, renames: Tuple[Tuple[str, str], ...], prefix: str) -> str:
        for old, new in renames:
            if rest.startswith(old):
                return prefix + new + rest[len(old):]
        raise KeyError(f'{key!r} belongs to no part of the official LAVT model.')

    fusion = re.match(r'backbone\.layers\.(\d+)\.(?=fusion\.|res_gate\.)', key)
    if fusion:
        return renamed(key[fusion.end():], LAVT_FUSION_RENAMES,
                       f'backbone.fusions.{fusion.group(1)}.')
    if key.startswith('classifier.'):
        return renamed(key[len('classifier.'):], LAVT_DECODER_RENAMES, 'decode_head.')
    if key.startswith('backbone.'):
        rest = key[len('backbone.'):]
        return 'backbone.swin.' + (rename_swin_key(rest) or rest)
    if key.startswith('text_encoder.'):
        return 'text_encoder.model.' + key[len('text_encoder.'):]
    raise KeyError(f'{key!r} belongs to no part of the official LAVT model.')


def load_lavt_checkpoint(path: str) -> Tuple[Dict[str, Tensor], Optional[Dict[str, Tensor]]]:
    """The ``model`` and ``bert_model`` state dicts of an official LAVT checkpoint.

    Returns:
        tuple: ``model`` and ``bert_model`` (None for a ``lavt_one`` checkpoint, whose BERT is
        inside ``model`` as ``text_encoder.*``).

    Raises:
        InputFileNotFoundError: If ``path`` does not exist.
        InputValueError: If the file is not a readable LAVT checkpoint.
    """
    ckpt = read_official_checkpoint(path, 'LAVT')
    model = tensor_dict(path, ckpt, 'model')
    if not any(re.match(r'backbone\.layers\.\d+\.fusion\.', k) for k in model):
        raise InputValueError(f'{path}: no backbone.layers.<i>.fusion.* keys under "model"; '
                              f'this is not a LAVT checkpoint (first keys: {list(model)[:3]}).')
    bert = tensor_dict(path, ckpt, 'bert_model') if 'bert_model' in ckpt else None
    if bert is None and not any(k.startswith('text_encoder.') for k in model):
        raise InputValueError(f'{path}: neither "bert_model" nor text_encoder.* keys; the '
                              f'checkpoint has no text encoder.')
    return model, bert


def _text_encoder_keys(bert: Dict[str, Tensor], dropped: List[Tuple[str, str]],
                       official_prefix: str) -> Dict[str, Tensor]:
    """BERT's tensors under ``text_encoder.model.``; its pooler and position ids dropped."""
    out = {}
    for key, tensor in bert.items():
        if key.startswith('pooler.'):
            dropped.append((official_prefix + key, 'BERT pooler, unused by LAVT'))
        elif key == 'embeddings.position_ids':
            dropped.append((official_prefix + key, 'a constant buffer (0, 1, 2, ...)'))
        else:
            out[f'text_encoder.model.{key}'] = tensor.clone()
    return out


def convert_lavt_state_dict(model: Dict[str, Tensor],
                            bert: Optional[Dict[str, Tensor]] = None) -> LAVTConversion:
    """Map official LAVT weights onto ``AMLSegmentor``'s keys.

    Args:
        model (dict[str, Tensor]): The checkpoint's ``model``.
        bert (dict[str, Tensor], optional): Its ``bert_model`` (model ``lavt``); None when
            BERT is inside ``model`` (``lavt_one``).

    Returns:
        LAVTConversion: The converted tensors, what was dropped and why, the settings read
        off the weights.

    Raises:
        InputValueError: If a key belongs to no known part of the official model.
    """
    unknown = [k for k in model
               if not k.startswith(('backbone.', 'classifier.', 'text_encoder.'))]
    if unknown:
        raise InputValueError(f'{len(unknown)} keys belong to no part of the official LAVT '
                              f'model (e.g. {unknown[:3]}); is this a LAVT checkpoint?')
    dropped: List[Tuple[str, str]] = [
        (k, 'the last stage\'s language gate: its output is never read')
        for k in last_gate_keys(model)]
    out = {f'backbone.{k}': v.clone()
           for k, v in convert_lavt_backbone(model, prefix='backbone.').items()}
    out.update({f'decode_head.{k}': v.clone() for k, v in convert_lavt_decoder(model).items()})
    extra = sorted(k for k in model if k.startswith('classifier.')
                   and not any(k.startswith('classifier.' + old)
                               for old, _ in LAVT_DECODER_RENAMES))
    if extra:
        raise InputValueError(f'{len(extra)} decoder keys are not part of LAVT\'s '
                              f'SimpleDecoding (e.g. {extra[:3]}).')
    inner = {k[len('text_encoder.'):]: v for k, v in model.items()
             if k.startswith('text_encoder.')}
    if inner and bert is not None:
        raise InputValueError('LAVT checkpoint with BERT both in "model" (text_encoder.*) and '
                              'in "bert_model": which one the model used is ambiguous.')
    out.update(_text_encoder_keys(bert if bert is not None else inner, dropped,
                                  '' if bert is not None else 'text_encoder.'))
    return LAVTConversion(out, dropped, detect_lavt_config(model, bert))


def detect_lavt_config(model: Dict[str, Tensor],
                       bert: Optional[Dict[str, Tensor]] = None) -> Dict[str, object]:
    """Model settings that the official weights determine, as ``--cfg-options`` keys.

    Swin's ``embed_dims``, ``depths``, ``num_heads`` and ``window_size``; the decoder's
    width; the text width and depth (reported, not an option: ``text_encoder.pretrained``
    must point to a BERT of that size). The heads of the pixel-word attention are not stored
    in the weights (official ``--mha``; default one per stage).
    """
    cfg: Dict[str, object] = {}
    swin = detect_swin_config(model, 'backbone.')
    if swin:
        cfg.update({f'model.backbone.swin.{k}': v for k, v in swin.items()})
        embed, num_stages = swin['embed_dims'], len(swin['depths'])
        cfg['model.decode_head.in_channels'] = [embed * 2**i for i in range(num_stages)]
    if 'classifier.conv1_4.weight' in model:
        cfg['model.decode_head.channels'] = int(model['classifier.conv1_4.weight'].shape[0])
    text = bert if bert is not None else {k[len('text_encoder.'):]: v for k, v in model.items()
                                          if k.startswith('text_encoder.')}
    if 'embeddings.word_embeddings.weight' in text:
        width = int(text['embeddings.word_embeddings.weight'].shape[1])
        cfg['model.backbone.text_channels'] = width
        cfg['text hidden size / layers'] = (
            width, count_indices(list(text), r'^encoder\.layer\.(\d+)\.'))
    return cfg
