# Copyright (c) mmamlris contributors. All rights reserved.
"""Transforms of the referring segmentation pipeline.

``LoadReferringMask`` decodes the GT mask, ``SampleExpression`` picks the expression of this
visit, ``TokenizeExpression`` turns it into token ids and ``PackRISInputs`` packs everything
into a ``SegDataSample``. Images are loaded and resized by mmcv's ``LoadImageFromFile`` and
``Resize``.

There is deliberately **no flip transform**: mirroring the pixels would make words such as
"left" and "right" wrong, and the reference protocol (CARIS, AMLRIS) uses no augmentation.
"""
from .formatting import PackRISInputs
from .loading import LoadReferringMask, decode_segmentation
from .text import SampleExpression, TokenizeExpression

__all__ = [
    'LoadReferringMask', 'decode_segmentation', 'SampleExpression', 'TokenizeExpression',
    'PackRISInputs'
]
