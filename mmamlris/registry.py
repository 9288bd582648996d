# Copyright (c) mmamlris contributors. All rights reserved.
"""Registries used by mmamlris.

mmamlris registers its components straight into **mmseg's** registries rather than into child
registries of its own: configs that inherit ``mmseg::`` bases get ``_scope_='mmseg'`` on every
inherited dict, and a child registry would be invisible from there (``docs/en/stack_notes.md``).
Every name we register is therefore prefixed or specific enough (``RIS*``, ``AML*``,
``RefCOCODataset``) not to collide with mmseg's own.
"""
from mmseg.registry import (DATA_SAMPLERS, DATASETS, EVALUATOR, HOOKS, LOOPS,
                            METRICS, MODEL_WRAPPERS, MODELS,
                            OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                            OPTIMIZERS, PARAM_SCHEDULERS, RUNNERS,
                            TRANSFORMS, VISBACKENDS, VISUALIZERS)

__all__ = [
    'DATA_SAMPLERS', 'DATASETS', 'EVALUATOR', 'HOOKS', 'LOOPS', 'METRICS',
    'MODEL_WRAPPERS', 'MODELS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'OPTIM_WRAPPERS',
    'OPTIMIZERS', 'PARAM_SCHEDULERS', 'RUNNERS', 'TRANSFORMS', 'VISBACKENDS',
    'VISUALIZERS'
]
