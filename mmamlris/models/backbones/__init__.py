# Copyright (c) mmamlris contributors. All rights reserved.
from .base_text_fused_backbone import BaseTextFusedBackbone

__all__ = ['BaseTextFusedBackbone']
