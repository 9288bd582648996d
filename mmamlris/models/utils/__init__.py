# Copyright (c) mmamlris contributors. All rights reserved.
from .logits_to_mask import logits_to_mask

__all__ = ['logits_to_mask']
