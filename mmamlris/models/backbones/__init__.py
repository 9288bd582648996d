# Copyright (c) mmamlris contributors. All rights reserved.
from .base_text_fused_backbone import BaseTextFusedBackbone
from .lavt_swin import LAVTSwinTransformer

__all__ = ['BaseTextFusedBackbone', 'LAVTSwinTransformer']
