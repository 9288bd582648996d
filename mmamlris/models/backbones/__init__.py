# Copyright (c) mmamlris contributors. All rights reserved.
from .base_text_fused_backbone import BaseTextFusedBackbone
from .lavt_mobilenet_v2 import LAVTMobileNetV2
from .lavt_swin import LAVTSwinTransformer

__all__ = ['BaseTextFusedBackbone', 'LAVTMobileNetV2', 'LAVTSwinTransformer']
