# Copyright (c) mmamlris contributors. All rights reserved.
from .conditional_prompt import ConditionalPrompt
from .dense_adapters import DenseAligner, DenseTextAdapter
from .pixel_word_fusion import PixelWordAttention, PixelWordFusion
from .region_language_decoder import RegionLanguageDecoder, ReLAOutputs
from .vl_deform_layer import VLDeformLayer
from .vl_multihead_attention import VLMultiheadAttention

__all__ = [
    'ConditionalPrompt', 'DenseAligner', 'DenseTextAdapter', 'PixelWordAttention',
    'PixelWordFusion', 'RegionLanguageDecoder', 'ReLAOutputs', 'VLDeformLayer',
    'VLMultiheadAttention'
]
