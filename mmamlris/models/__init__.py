# Copyright (c) mmamlris contributors. All rights reserved.
from .aml import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .data_preprocessor import RISDataPreProcessor, stack_text_inputs
from .decode_heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
from .text_encoders import *  # noqa: F401,F403
from .utils import logits_to_mask

__all__ = ['RISDataPreProcessor', 'logits_to_mask', 'stack_text_inputs']
