# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef, the synthetic RefCOCO-format dataset: scene layout (``scene``), expressions
(``language``, ``gres``), pixels (``render``), files (``writer``), statistics (``stats``),
put together by :func:`generate_synref` (``generator``)."""
from .generator import SPLITS, generate_synref
from .language import clean_sentence, expression_form
from .scene import COLOURS, SHAPES, SIZES
from .stats import format_stats

__all__ = [
    'COLOURS', 'SHAPES', 'SIZES', 'SPLITS', 'clean_sentence', 'expression_form', 'format_stats',
    'generate_synref'
]
