# Copyright (c) mmamlris contributors. All rights reserved.
from .tiny_text_model import make_tiny_bert_dir, tiny_bert_config

__all__ = ['make_tiny_bert_dir', 'tiny_bert_config']
