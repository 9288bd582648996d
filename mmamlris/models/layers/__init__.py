# Copyright (c) mmamlris contributors. All rights reserved.
from .conditional_prompt import ConditionalPrompt
from .dense_adapters import DenseAligner, DenseTextAdapter
from .dynamic_conv_projector import DynamicConvProjector
from .pixel_word_fusion import PixelWordAttention, PixelWordFusion
from .region_language_decoder import RegionLanguageDecoder, ReLAOutputs
from .sentence_gated_neck import SentenceGatedNeck
from .vl_deform_layer import VLDeformLayer
from .vl_multihead_attention import VLMultiheadAttention
from .vl_transformer_decoder import VLTransformerDecoder

__all__ = [
    'ConditionalPrompt', 'DenseAligner', 'DenseTextAdapter', 'DynamicConvProjector',
    'PixelWordAttention', 'PixelWordFusion', 'RegionLanguageDecoder', 'ReLAOutputs',
    'SentenceGatedNeck', 'VLDeformLayer', 'VLMultiheadAttention', 'VLTransformerDecoder'
]
