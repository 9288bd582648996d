# Copyright (c) mmamlris contributors. All rights reserved.
"""Transforms of the referring segmentation pipeline.

``LoadRISImageFromFile`` loads the image (mmcv's loader with clear errors for missing,
empty, truncated or corrupt files), ``LoadReferringMask`` decodes the GT mask,
``SampleExpression`` picks the expression of this visit, ``TokenizeExpression`` turns it into
token ids and ``PackRISInputs`` packs everything into a ``SegDataSample``. Images are resized
by mmcv's ``Resize``.

There is deliberately **no flip transform**: mirroring the pixels would make words such as
"left" and "right" wrong, and the reference protocol (CARIS, AMLRIS) uses no augmentation.
"""
from .formatting import PackRISInputs
from .image_loading import LoadRISImageFromFile, diagnose_image_bytes
from .loading import LoadReferringMask, decode_segmentation
from .text import SampleExpression, TokenizeExpression

__all__ = [
    'LoadRISImageFromFile', 'diagnose_image_bytes', 'LoadReferringMask', 'decode_segmentation',
    'SampleExpression', 'TokenizeExpression', 'PackRISInputs'
]
