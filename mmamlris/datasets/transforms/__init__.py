# Copyright (c) mmamlris contributors. All rights reserved.
"""Transforms of the referring segmentation pipeline.

``LoadRISImageFromFile`` loads the image (mmcv's loader with clear errors for missing,
empty, truncated or corrupt files), ``LoadReferringMask`` decodes the GT mask,
``SampleExpression`` picks the expression of this visit, ``TokenizeExpression`` (BERT
WordPiece) or ``TokenizeCLIPExpression`` (CLIP BPE) turns it into token ids and
``PackRISInputs`` packs everything into a ``SegDataSample``. Images are resized by mmcv's
``Resize`` or, keeping their aspect ratio on a padded canvas (DETRIS), by ``LetterBox``.
``Corrupt`` (an ImageNet-C corruption) and ``OccludeReferent`` (a patch over part
of the referred object) degrade the loaded image for robustness benchmarks;
``LoadObjectsMask`` gives the oracle ablations every object of the image.

There is deliberately **no flip transform**: mirroring the pixels would make words such as
"left" and "right" wrong, and the reference protocol (CARIS, AMLRIS) uses no augmentation.
"""
from .clip_tokenize import TokenizeCLIPExpression
from .corrupt import Corrupt
from .formatting import PackRISInputs
from .image_corruptions import BENCHMARK_CORRUPTIONS, HELD_OUT_CORRUPTIONS
from .image_loading import LoadRISImageFromFile, diagnose_image_bytes
from .letterbox import LetterBox
from .loading import LoadReferringMask, decode_segmentation, referred_mask
from .objects_mask import LoadObjectsMask
from .occlude_referent import OccludeReferent
from .text import SampleExpression, TokenizeExpression

__all__ = [
    'LoadRISImageFromFile', 'diagnose_image_bytes', 'LoadReferringMask', 'decode_segmentation',
    'SampleExpression', 'TokenizeExpression', 'PackRISInputs', 'Corrupt', 'OccludeReferent',
    'BENCHMARK_CORRUPTIONS', 'HELD_OUT_CORRUPTIONS', 'LoadObjectsMask', 'TokenizeCLIPExpression',
    'LetterBox', 'referred_mask'
]
