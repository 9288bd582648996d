# Copyright (c) mmamlris contributors. All rights reserved.
"""Official ReLA (GRES) checkpoints -> the state dict of mmamlris's ``AMLSegmentor``.

ReLA's detectron2 checkpoints hold ``{'model': state_dict, ...}``:

- ``backbone.*``: its language-aware Swin, LAVT's names (no gate after the last stage) ->
  ``backbone.*`` (:class:`LAVTSwinTransformer`, through the LAVT converter);
- ``text_encoder.*`` (HF ``BertModel``, pooler removed) -> ``text_encoder.model.*``;
- ``sem_seg_head.pixel_decoder.*`` -> ``decode_head.pixel_decoder.*`` (below);
- ``sem_seg_head.predictor.*`` -> ``decode_head.decoder.*`` (below).

The query decoder (``MultiScaleMaskedReferringDecoder``) and ours
(:class:`RegionLanguageDecoder`):

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

from mmamlris.utils.errors import InputValueError
from .lavt import convert_lavt_backbone, rename_lavt_key
from .official_checkpoint import Conversion, read_official_checkpoint, tensor_dict
from .renames import first_rename
from .swin import count_indices, detect_swin_config

__all__ = ['RELA_DECODER_RENAMES', 'RELA_PIXEL_DECODER_RENAMES', 'ReLAConversion',
           'convert_rela_decoder', 'convert_rela_pixel_decoder', 'convert_rela_state_dict',
           'detect_rela_config', 'load_rela_checkpoint', 'rename_rela_key']

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
    renamed = first_rename(key, RELA_DECODER_RENAMES)
    if renamed is None:
        raise KeyError(f'{key!r} belongs to no part of ReLA\'s query decoder.')
    return renamed


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
    return {_rename_pixel(k[len(prefix):]): v for k, v in state_dict.items()
            if k.startswith(prefix)}


def _rename_pixel(key: str) -> str:
    renamed = first_rename(key, RELA_PIXEL_DECODER_RENAMES)
    if renamed is None:
        raise KeyError(f'{key!r} belongs to no part of ReLA\'s pixel decoder.')
    return renamed


_PIXEL, _PREDICTOR = 'sem_seg_head.pixel_decoder.', 'sem_seg_head.predictor.'


def rename_rela_key(key: str) -> str:
    """Our name of one official ReLA key (the name only: the converter also reshapes).

    Raises:
        KeyError: If the key belongs to no known part of the model.
    """
    if key.startswith(_PIXEL):
        return 'decode_head.pixel_decoder.' + _rename_pixel(key[len(_PIXEL):])
    if key.startswith(_PREDICTOR):
        return 'decode_head.decoder.' + _rename(key[len(_PREDICTOR):])
    if key.startswith(('backbone.', 'text_encoder.')):
        return rename_lavt_key(key)
    raise KeyError(f'{key!r} belongs to no part of the official ReLA model.')


ReLAConversion = Conversion  # the same record for every model; the name kept for imports


def load_rela_checkpoint(path: str) -> Dict[str, Tensor]:
    """The ``model`` state dict of an official ReLA (detectron2) checkpoint.

    Raises:
        InputFileNotFoundError: If ``path`` does not exist.
        InputValueError: If the file is not a readable ReLA checkpoint.
    """
    state = tensor_dict(path, read_official_checkpoint(path, 'ReLA'), 'model')
    if not any(k.startswith(_PREDICTOR + 'minimap_embed.') for k in state):
        raise InputValueError(f'{path}: no {_PREDICTOR}minimap_embed.* keys; this is not a '
                              f'ReLA checkpoint (first keys: {list(state)[:3]}).')
    return state


def convert_rela_state_dict(state_dict: Dict[str, Tensor]) -> ReLAConversion:
    """Map an official ReLA ``model`` state dict onto ``AMLSegmentor``'s keys.

    Raises:
        InputValueError: If a key belongs to no known part of the official model.
    """
    dropped = [(k, 'BERT pooler, unused by ReLA') for k in state_dict
               if k.startswith('text_encoder.pooler.')]
    dropped += [(k, 'a constant buffer (0, 1, 2, ...)') for k in state_dict
                if k == 'text_encoder.embeddings.position_ids']
    skip = {k for k, _ in dropped}
    unknown = [k for k in state_dict if k not in skip and not k.startswith(
        ('backbone.', 'text_encoder.', _PIXEL, _PREDICTOR))]
    if unknown:
        raise InputValueError(f'{len(unknown)} keys belong to no part of the official ReLA '
                              f'model (e.g. {unknown[:3]}); is this a ReLA checkpoint?')
    out = {f'backbone.{k}': v.clone()
           for k, v in convert_lavt_backbone(state_dict, prefix='backbone.').items()}
    for key, tensor in state_dict.items():
        if key in skip or key.startswith('backbone.'):
            continue
        out[rename_rela_key(key)] = tensor.clone()
    return ReLAConversion(out, dropped, detect_rela_config(state_dict))


def detect_rela_config(state_dict: Dict[str, Tensor]) -> Dict[str, object]:
    """Model settings that the official weights determine, as ``--cfg-options`` keys.

    Swin's sizes; the head's width (``channels``), the pixel decoder's encoder layers, the
    query decoder's queries, FFN width and rounds; the text width and depth (reported). Head
    counts are not stored in the weights.
    """
    cfg: Dict[str, object] = {}
    swin = detect_swin_config(state_dict, 'backbone.')
    if swin:
        cfg.update({f'model.backbone.swin.{k}': v for k, v in swin.items()})
        embed, num_stages = swin['embed_dims'], len(swin['depths'])
        cfg['model.decode_head.in_channels'] = [embed * 2**i for i in range(num_stages)]
    keys = list(state_dict)
    head = 'model.decode_head.'
    if _PREDICTOR + 'query_feat.weight' in state_dict:
        queries, width = state_dict[_PREDICTOR + 'query_feat.weight'].shape
        cfg[head + 'channels'] = int(width)
        cfg[head + 'decoder.num_queries'] = int(queries)
        cfg[head + 'decoder.num_layers'] = count_indices(
            keys, rf'^{re.escape(_PREDICTOR)}RIA_layers\.(\d+)\.')
        cfg[head + 'decoder.ffn_channels'] = int(
            state_dict[_PREDICTOR + 'transformer_ffn_layers.0.linear1.weight'].shape[0])
    layers = count_indices(keys, rf'^{re.escape(_PIXEL)}transformer\.encoder\.layers\.(\d+)\.')
    if layers:
        cfg[head + 'pixel_decoder.encoder.num_layers'] = layers
    if 'text_encoder.embeddings.word_embeddings.weight' in state_dict:
        width = int(state_dict['text_encoder.embeddings.word_embeddings.weight'].shape[1])
        cfg['text hidden size / layers'] = (
            width, count_indices(keys, r'^text_encoder\.encoder\.layer\.(\d+)\.'))
    return cfg
