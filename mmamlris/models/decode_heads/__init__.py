# Copyright (c) mmamlris contributors. All rights reserved.
from .base_ris_head import BaseRISDecodeHead
from .lite_ris_head import LiteRISHead

__all__ = ['BaseRISDecodeHead', 'LiteRISHead']
