# Copyright (c) mmamlris contributors. All rights reserved.
from .alignment_aware_masking import AlignmentAwareMasking, AMLOutput
from .alignment_statistics import (alignment_statistics, block_targets, fit_to_size,
                                   gt_masks, per_image_alignment, ranking_auc)
from .filters import (AlignmentAwareFilter, BaseBlockFilter, BlockSelection, RandomBlockFilter,
                      ReleasedBlockFilter, official_block_mask)
from .image_region import real_image_pixels
from .scorers import (BaseAlignmentScorer, DecoderScorer, LearnedScorer, OracleScorer,
                      PatchMaxScorer, ReleasedRelevanceScorer, minmax_per_image,
                      official_relevance)

__all__ = [
    'AlignmentAwareMasking', 'AMLOutput', 'alignment_statistics', 'block_targets',
    'fit_to_size', 'gt_masks', 'per_image_alignment', 'ranking_auc', 'AlignmentAwareFilter',
    'BaseBlockFilter',
    'BlockSelection', 'RandomBlockFilter', 'ReleasedBlockFilter', 'official_block_mask',
    'real_image_pixels',
    'BaseAlignmentScorer', 'DecoderScorer', 'LearnedScorer', 'OracleScorer', 'PatchMaxScorer',
    'ReleasedRelevanceScorer', 'minmax_per_image', 'official_relevance'
]
