# Copyright (c) mmamlris contributors. All rights reserved.
from .backbone_early_exit import BackboneEarlyExit
from .frozen_model import FrozenModelMixin
from .letterbox_inverse import unletterbox
from .logits_to_mask import logits_to_mask
from .precise_bn import batch_norms, recompute_bn_statistics
from .sentence_feature import sentence_feature

__all__ = [
    'BackboneEarlyExit', 'FrozenModelMixin', 'batch_norms', 'logits_to_mask',
    'recompute_bn_statistics', 'sentence_feature', 'unletterbox'
]
