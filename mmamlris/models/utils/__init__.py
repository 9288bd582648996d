# Copyright (c) mmamlris contributors. All rights reserved.
from .backbone_early_exit import BackboneEarlyExit
from .frozen_model import FrozenModelMixin
from .letterbox_inverse import unletterbox
from .logits_to_mask import logits_to_mask
from .sentence_feature import sentence_feature

__all__ = [
    'BackboneEarlyExit', 'FrozenModelMixin', 'logits_to_mask', 'sentence_feature', 'unletterbox'
]
