# Copyright (c) mmamlris contributors. All rights reserved.
from .base_text_fused_backbone import BaseTextFusedBackbone
from .detris_dinov2 import DETRISDinov2
from .lavt_mobilenet_v2 import LAVTMobileNetV2
from .lavt_swin import LAVTSwinTransformer

__all__ = ['BaseTextFusedBackbone', 'DETRISDinov2', 'LAVTMobileNetV2', 'LAVTSwinTransformer']
