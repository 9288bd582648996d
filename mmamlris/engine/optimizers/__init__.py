# Copyright (c) mmamlris contributors. All rights reserved.
from .ris_optim_constructor import RISOptimWrapperConstructor
from .skip_nonfinite_optim_wrapper import (NonFiniteLossError, SkipNonFiniteAmpOptimWrapper,
                                           SkipNonFiniteOptimWrapper)

__all__ = [
    'RISOptimWrapperConstructor', 'NonFiniteLossError', 'SkipNonFiniteOptimWrapper',
    'SkipNonFiniteAmpOptimWrapper'
]
