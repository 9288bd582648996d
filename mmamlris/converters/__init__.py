# Copyright (c) mmamlris contributors. All rights reserved.
from .caris import (CARISConversion, convert_caris_state_dict, detect_caris_config,
                    load_official_checkpoint)
from .detris import (CLIP_TEXT_RENAMES, DETRIS_ADAPTER_RENAMES, DETRIS_HEAD_RENAMES,
                     DINOV2_RENAMES, DETRISConversion, convert_detris_adapter,
                     convert_detris_clip_text, convert_detris_dinov2, convert_detris_head,
                     convert_detris_pretrained, convert_detris_state_dict,
                     convert_detris_text_projection, detect_detris_config,
                     load_detris_checkpoint, load_public_tower, rename_detris_adapter_key)
from .lavt import (LAVT_DECODER_RENAMES, LAVT_FUSION_RENAMES, LAVTConversion,
                   convert_lavt_backbone, convert_lavt_decoder, convert_lavt_fusion,
                   convert_lavt_state_dict, detect_lavt_config, load_lavt_checkpoint,
                   rename_lavt_key)
from .rela import (RELA_DECODER_RENAMES, RELA_PIXEL_DECODER_RENAMES, ReLAConversion,
                   convert_rela_decoder, convert_rela_pixel_decoder, convert_rela_state_dict,
                   detect_rela_config, load_rela_checkpoint, rename_rela_key)
from .official_checkpoint import Conversion
from .renames import first_rename
from .mobilenetv2_deepsort import (DEEPSORT_WEIGHTS, convert_deepsort_mobilenetv2,
                                   deepsort_weights_path, load_deepsort_mobilenetv2)

__all__ = [
    'Conversion', 'first_rename',
    'CARISConversion', 'convert_caris_state_dict', 'detect_caris_config',
    'load_official_checkpoint', 'LAVT_FUSION_RENAMES', 'convert_lavt_backbone',
    'convert_lavt_fusion', 'LAVT_DECODER_RENAMES', 'convert_lavt_decoder', 'LAVTConversion',
    'convert_lavt_state_dict', 'detect_lavt_config', 'load_lavt_checkpoint', 'rename_lavt_key',
    'DEEPSORT_WEIGHTS', 'convert_deepsort_mobilenetv2', 'deepsort_weights_path',
    'load_deepsort_mobilenetv2', 'RELA_DECODER_RENAMES', 'convert_rela_decoder',
    'RELA_PIXEL_DECODER_RENAMES', 'convert_rela_pixel_decoder', 'ReLAConversion',
    'convert_rela_state_dict', 'detect_rela_config', 'load_rela_checkpoint', 'rename_rela_key',
    'DETRIS_ADAPTER_RENAMES', 'convert_detris_adapter', 'rename_detris_adapter_key',
    'DINOV2_RENAMES', 'convert_detris_dinov2', 'CLIP_TEXT_RENAMES', 'convert_detris_clip_text',
    'DETRIS_HEAD_RENAMES', 'convert_detris_head', 'convert_detris_text_projection',
    'DETRISConversion', 'convert_detris_state_dict', 'convert_detris_pretrained',
    'detect_detris_config', 'load_detris_checkpoint', 'load_public_tower'
]
