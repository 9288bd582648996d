# Copyright (c) mmamlris contributors. All rights reserved.
"""Shared fixtures of the dataset tests: the hand-made REFER fixture ``tests/data/refer_tiny``.

Its content (images, annotations, refs and their splits) is tabulated in
``tests/data/make_refer_tiny.py``; the expected numbers in the tests come from that table.
"""
import os.path as osp

import pytest

REFER_TINY = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'refer_tiny')


@pytest.fixture
def refer_tiny() -> str:
    """Root of the tiny REFER-layout dataset."""
    return REFER_TINY


@pytest.fixture
def tiny_kwargs(refer_tiny) -> dict:
    """``RefCOCODataset`` arguments that point at the fixture."""
    return dict(
        data_root=refer_tiny,
        ann_file='instances.json',
        split_file='refs(unc).p',
        data_prefix=dict(img_path='images/'))
