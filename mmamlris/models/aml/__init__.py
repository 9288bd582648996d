# Copyright (c) mmamlris contributors. All rights reserved.
from .alignment_aware_masking import AlignmentAwareMasking, AMLOutput
from .official_compat import official_block_mask, official_relevance

__all__ = ['AlignmentAwareMasking', 'AMLOutput', 'official_block_mask', 'official_relevance']
