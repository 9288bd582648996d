# Copyright (c) mmamlris contributors. All rights reserved.
"""``LoadReferringMask`` / ``decode_segmentation``.

COCO rasterises polygons at pixel centres: pixel (row r, col c) is inside when (c + 0.5,
r + 0.5) is, so the rectangle with corners x0..x1, y0..y1 (integers) covers rows y0..y1-1 and
cols x0..x1-1, i.e. (x1 - x0) * (y1 - y0) pixels.
"""
import json
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmamlris.datasets import LoadReferringMask, decode_segmentation


def _rect(height, width, rows, cols):
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = 1
    return mask


@pytest.fixture
def anns(refer_tiny):
    with open(osp.join(refer_tiny, 'instances.json')) as f:
        return {a['id']: a for a in json.load(f)['annotations']}


def test_polygon_two_parts(anns):
    mask = decode_segmentation(anns[501]['segmentation'], 30, 40)
    expected = _rect(30, 40, (5, 15), (5, 15)) | _rect(30, 40, (20, 26), (20, 24))
    assert mask.dtype == np.uint8 and mask.shape == (30, 40) and mask.flags.c_contiguous
    assert mask.sum() == 10 * 10 + 4 * 6
    np.testing.assert_array_equal(mask, expected)


def test_compressed_rle_str_and_bytes(anns):
    rle = anns[777]['segmentation']
    assert isinstance(rle['counts'], str)
    expected = _rect(24, 32, (2, 10), (3, 13))
    np.testing.assert_array_equal(decode_segmentation(rle, 24, 32), expected)
    as_bytes = dict(size=rle['size'], counts=rle['counts'].encode())
    np.testing.assert_array_equal(decode_segmentation(as_bytes, 24, 32), expected)
    assert expected.sum() == 80


def test_uncompressed_rle_matches_polygon(anns):
    rle_mask = decode_segmentation(anns[903]['segmentation'], 30, 40)
    poly_mask = decode_segmentation(anns[904]['segmentation'], 30, 40)
    expected = _rect(30, 40, (10, 20), (4, 10))
    assert rle_mask.sum() == 60
    np.testing.assert_array_equal(rle_mask, expected)
    np.testing.assert_array_equal(poly_mask, expected)


def test_polygon_rle_parity_random_shape():
    # a non-rectangular polygon, rasterised once as polygon and once via its own RLE
    poly = [[3.5, 2.0, 30.2, 6.7, 22.0, 25.3, 6.1, 20.0]]
    from_poly = decode_segmentation(poly, 28, 36)
    encoded = mask_utils.encode(np.asfortranarray(from_poly))
    from_rle = decode_segmentation(dict(size=[28, 36], counts=encoded['counts'].decode()), 28,
                                   36)
    assert 0 < from_poly.sum() < 28 * 36
    np.testing.assert_array_equal(from_poly, from_rle)


def test_degenerate_polygons():
    # parts with fewer than 3 points enclose nothing and are skipped, even as the first part
    # (pycocotools would read a first part of 4 numbers as a box)
    assert decode_segmentation([[1, 1, 9, 9]], 12, 12).sum() == 0
    assert decode_segmentation([], 12, 12).sum() == 0
    mask = decode_segmentation([[0, 0, 10, 10], [2, 2, 6, 2, 6, 5, 2, 5]], 12, 12)
    np.testing.assert_array_equal(mask, _rect(12, 12, (2, 5), (2, 6)))


@pytest.mark.parametrize('segmentation, pattern', [
    ([[1, 2, 3]], 'flat list'),
    (dict(counts=[1, 2]), '"counts" and "size"'),
    (dict(size=[5, 5], counts=[25]), r'RLE size \[5, 5\]'),
    (dict(size=[12, 12], counts=3), 'counts must be'),
    ('polygon', 'polygon list or an RLE dict'),
])
def test_bad_segmentation(segmentation, pattern):
    with pytest.raises(ValueError, match=pattern):
        decode_segmentation(segmentation, 12, 12, source='img.jpg')


def test_transform_fields(anns):
    results = dict(segmentation=anns[903]['segmentation'], height=30, width=40,
                   ori_shape=(30, 40), img_path='x.jpg')
    out = LoadReferringMask()(results)
    assert out['seg_fields'] == ['gt_seg_map']
    assert out['gt_seg_map'].dtype == np.uint8
    assert set(np.unique(out['gt_seg_map'])) == {0, 1}
    # applied twice, or with an existing list: appended once
    out = LoadReferringMask()(dict(out, seg_fields=['other', 'gt_seg_map']))
    assert out['seg_fields'] == ['other', 'gt_seg_map']
    assert repr(LoadReferringMask()) == 'LoadReferringMask()'


def test_transform_zero_area():
    out = LoadReferringMask()(dict(segmentation=[[1, 1, 2, 2]], height=4, width=5))
    assert out['gt_seg_map'].shape == (4, 5) and out['gt_seg_map'].sum() == 0


def test_transform_checks_ori_shape_not_img_shape(anns):
    seg = anns[501]['segmentation']
    # after a Resize (test pipeline) img_shape differs but ori_shape is the file's size
    out = LoadReferringMask()(dict(segmentation=seg, height=30, width=40, ori_shape=(30, 40),
                                   img_shape=(448, 448)))
    assert out['gt_seg_map'].shape == (30, 40)
    with pytest.raises(ValueError) as err:
        LoadReferringMask()(dict(segmentation=seg, height=30, width=40, ori_shape=(40, 30),
                                 img_path='data/coco/wrong.jpg'))
    msg = str(err.value)
    assert 'data/coco/wrong.jpg' in msg and '40x30' in msg and '30x40' in msg
