# Copyright (c) mmamlris contributors. All rights reserved.
"""Shared pytest set-up: mmseg's default scope and the ``gpu`` marker."""
import pytest
import torch


def pytest_configure(config):
    from mmengine.registry import init_default_scope

    import mmamlris  # noqa: F401  (registers every component)
    init_default_scope('mmseg')


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason='needs a CUDA device; none is present')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip_gpu)
