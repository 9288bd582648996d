# Copyright (c) mmamlris contributors. All rights reserved.
from .base_scorer import BaseAlignmentScorer
from .patch_max_scorer import PatchMaxScorer, minmax_per_image
from .released_scorer import ReleasedRelevanceScorer, official_relevance

__all__ = [
    'BaseAlignmentScorer', 'PatchMaxScorer', 'ReleasedRelevanceScorer', 'minmax_per_image',
    'official_relevance'
]
