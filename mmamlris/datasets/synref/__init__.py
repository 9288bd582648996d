# Copyright (c) mmamlris contributors. All rights reserved.
from .generator import (COLOURS, SHAPES, SIZES, SPLITS, clean_sentence, format_stats,
                        generate_synref)

__all__ = [
    'COLOURS', 'SHAPES', 'SIZES', 'SPLITS', 'clean_sentence', 'format_stats', 'generate_synref'
]
