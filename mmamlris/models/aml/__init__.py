# Copyright (c) mmamlris contributors. All rights reserved.
from .alignment_aware_masking import AlignmentAwareMasking, AMLOutput
from .filters import (AlignmentAwareFilter, BaseBlockFilter, BlockSelection,
                      ReleasedBlockFilter, official_block_mask)
from .scorers import (BaseAlignmentScorer, PatchMaxScorer, ReleasedRelevanceScorer,
                      minmax_per_image, official_relevance)

__all__ = [
    'AlignmentAwareMasking', 'AMLOutput', 'AlignmentAwareFilter', 'BaseBlockFilter',
    'BlockSelection', 'ReleasedBlockFilter', 'official_block_mask', 'BaseAlignmentScorer',
    'PatchMaxScorer', 'ReleasedRelevanceScorer', 'minmax_per_image', 'official_relevance'
]
