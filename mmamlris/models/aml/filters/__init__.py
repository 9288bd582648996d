# Copyright (c) mmamlris contributors. All rights reserved.
from .alignment_aware_filter import AlignmentAwareFilter
from .base_filter import BaseBlockFilter, BlockSelection
from .random_block_filter import RandomBlockFilter
from .released_filter import ReleasedBlockFilter, official_block_mask

__all__ = [
    'AlignmentAwareFilter', 'BaseBlockFilter', 'BlockSelection', 'RandomBlockFilter',
    'ReleasedBlockFilter', 'official_block_mask'
]
