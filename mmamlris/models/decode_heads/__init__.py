# Copyright (c) mmamlris contributors. All rights reserved.
from .base_ris_head import BaseRISDecodeHead
from .caris_head import CARISHead
from .detris_head import DETRISHead
from .lavt_head import LAVTHead
from .lite_ris_head import LiteRISHead
from .no_target_head import NoTargetHead
from .rela_head import ReLAHead

__all__ = ['BaseRISDecodeHead', 'CARISHead', 'DETRISHead', 'LAVTHead', 'LiteRISHead',
           'NoTargetHead', 'ReLAHead']
