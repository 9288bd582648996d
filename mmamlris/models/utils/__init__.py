# Copyright (c) mmamlris contributors. All rights reserved.
from .logits_to_mask import logits_to_mask
from .sentence_feature import sentence_feature

__all__ = ['logits_to_mask', 'sentence_feature']
