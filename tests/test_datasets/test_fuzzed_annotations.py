# Copyright (c) mmamlris contributors. All rights reserved.
"""Damaged annotation files: byte flips and truncations of ``refs(unc).p``,
``grefs(unc).json`` (gRefCOCO) and ``instances.json`` (hypothesis) end in an ``InputError``
that names the file, or in a dataset that loads; never in a traceback from inside a library,
and the pickle never runs code."""
import os
import os.path as osp
import pickle
import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmamlris.datasets import GRefCOCODataset, RefCOCODataset
from mmamlris.utils import InputError

REFER_TINY = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'refer_tiny')
# refer_tiny/grefs(unc).json is the hand-written gRefCOCO file of test_grefcoco_dataset.py
# (int, list and [-1] ann ids, a no_target flag)
FILES = ('refs(unc).p', 'grefs(unc).json', 'instances.json')


def damaged(data: bytes, draw) -> bytes:
    """A truncation, or 1 to 4 bytes replaced, drawn by hypothesis."""
    if draw(st.booleans()):
        return data[:draw(st.integers(0, len(data) - 1))]
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def load(root, name='refs(unc).p'):
    dataset, split_file = (GRefCOCODataset, 'grefs(unc).json') if name.startswith('grefs') \
        else (RefCOCODataset, 'refs(unc).p')
    for split in ('train', 'val'):  # the parsing plus both item layouts
        dataset(data_root=root, ann_file='instances.json', split_file=split_file,
                data_prefix=dict(img_path='images/'), split=split, test_mode=split == 'val',
                lazy_init=False)


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(FILES), data=st.data())
def test_damaged_annotation_file_gives_an_input_error_naming_it(name, data):
    with tempfile.TemporaryDirectory() as root:
        for item in os.listdir(REFER_TINY):
            src = osp.join(REFER_TINY, item)
            (shutil.copytree if osp.isdir(src) else shutil.copy)(src, osp.join(root, item))
        with open(osp.join(REFER_TINY, name), 'rb') as f:
            raw = f.read()
        with open(osp.join(root, name), 'wb') as f:
            f.write(damaged(raw, data.draw))
        try:
            load(root, name)
        except InputError as error:
            assert name in str(error), str(error)
        # any other exception fails the test with its own traceback


def test_a_pickle_that_would_run_code_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / 'ran'

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    root = tmp_path / 'data'
    shutil.copytree(REFER_TINY, root)
    with open(root / 'refs(unc).p', 'wb') as f:
        pickle.dump([RunsCode()], f)
    try:
        load(str(root))
    except InputError as error:
        assert 'refs(unc).p' in str(error)
    else:
        raise AssertionError('the pickle was accepted')
    assert not marker.exists()
