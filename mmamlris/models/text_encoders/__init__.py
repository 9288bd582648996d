# Copyright (c) mmamlris contributors. All rights reserved.
from .detris_clip_text import DETRISCLIPText
from .hf_text_encoder import HFTextEncoder

__all__ = ['DETRISCLIPText', 'HFTextEncoder']
