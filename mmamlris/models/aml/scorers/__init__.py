# Copyright (c) mmamlris contributors. All rights reserved.
from .base_scorer import BaseAlignmentScorer
from .decoder_scorer import DecoderScorer
from .learned_scorer import LearnedScorer
from .oracle_scorer import OracleScorer
from .patch_max_scorer import PatchMaxScorer, minmax_per_image
from .released_scorer import ReleasedRelevanceScorer, official_relevance

__all__ = [
    'BaseAlignmentScorer', 'DecoderScorer', 'LearnedScorer', 'OracleScorer', 'PatchMaxScorer',
    'ReleasedRelevanceScorer', 'minmax_per_image', 'official_relevance'
]
