# Copyright (c) mmamlris contributors. All rights reserved.
from .conditional_prompt import ConditionalPrompt
from .vl_deform_layer import VLDeformLayer
from .vl_multihead_attention import VLMultiheadAttention

__all__ = ['ConditionalPrompt', 'VLDeformLayer', 'VLMultiheadAttention']
