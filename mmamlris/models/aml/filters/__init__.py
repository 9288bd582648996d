# Copyright (c) mmamlris contributors. All rights reserved.
from .alignment_aware_filter import AlignmentAwareFilter
from .base_filter import BaseBlockFilter, BlockSelection
from .released_filter import ReleasedBlockFilter, official_block_mask

__all__ = [
    'AlignmentAwareFilter', 'BaseBlockFilter', 'BlockSelection', 'ReleasedBlockFilter',
    'official_block_mask'
]
