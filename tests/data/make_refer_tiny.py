# Copyright (c) mmamlris contributors. All rights reserved.
"""Write ``tests/data/refer_tiny``: a hand-made dataset in the REFER layout for the tests.

Run ``python tests/data/make_refer_tiny.py`` to regenerate it (deterministic). Layout::

    refer_tiny/instances.json   COCO images + annotations
    refer_tiny/refs(unc).p      pickled list of refs (protocol 2, like the real files)
    refer_tiny/images/*.jpg|png

Every shape is an axis-aligned rectangle so that its area can be computed by hand:

=====  =====  ==========  ====================================  =========================
image  size   annotation  segmentation                          pixels (rows x cols)
=====  =====  ==========  ====================================  =========================
11     30x40  501         polygon, 2 parts + a 2-point part     10x10 + 6x4 = 124
27     24x32  777         compressed RLE                        rows 2-9, cols 3-12 = 80
105    30x40  903         uncompressed RLE (counts by hand)     rows 10-19, cols 4-9 = 60
105    30x40  904         polygon of the same rectangle as 903  60
=====  =====  ==========  ====================================  =========================

Refs (ids not contiguous) and their usable sentences:

====  ======  ===  ============================================  ==========
ref   split   ann  sentences (sent_id)                           kept
====  ======  ===  ============================================  ==========
3     train   501  10, 11, 12                                    3
8     train   777  20, 21 (whitespace only), 22                  2
15    val     903  30, 31                                        2
16    val     904  40                                            1
42    testA   501  50, 51 (empty), 52                            2
57    testA   777  60                                            1
61    testA   904  71 (empty)                                    0 (ref dropped)
99    testB   903  70                                            1
120   test    777  80                                            1
====  ======  ===  ============================================  ==========
"""
import json
import os
import os.path as osp
import pickle

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

OUT = osp.join(osp.dirname(osp.abspath(__file__)), 'refer_tiny')

IMAGES = [
    dict(id=11, file_name='tiny_011.jpg', height=30, width=40),
    dict(id=27, file_name='tiny_027.png', height=24, width=32),
    dict(id=105, file_name='tiny_105.jpg', height=30, width=40),
]


def _rle_027() -> dict:
    """Compressed RLE of rows 2-9, cols 3-12 in a 24x32 image."""
    mask = np.zeros((24, 32), dtype=np.uint8)
    mask[2:10, 3:13] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    return dict(size=[24, 32], counts=rle['counts'].decode('ascii'))


# Column-major runs of rows 10-19, cols 4-9 in a 30x40 image, starting with background:
# 4 full columns + 10 rows, then 6 x (10 object rows), separated by 20 background rows
# (10 below + 10 above in the next column), then 10 rows + 30 full columns of background.
RLE_903 = dict(size=[30, 40], counts=[130, 10, 20, 10, 20, 10, 20, 10, 20, 10, 20, 10, 910])

ANNOTATIONS = [
    dict(id=501, image_id=11, category_id=1, iscrowd=0,
         segmentation=[[5, 5, 15, 5, 15, 15, 5, 15],       # 10 x 10
                       [20, 20, 24, 20, 24, 26, 20, 26],   # 4 wide x 6 high
                       [30, 2, 35, 2]]),                   # 2 points: no area, skipped
    dict(id=777, image_id=27, category_id=44, iscrowd=0, segmentation=_rle_027()),
    dict(id=903, image_id=105, category_id=18, iscrowd=1, segmentation=RLE_903),
    dict(id=904, image_id=105, category_id=18, iscrowd=0,
         segmentation=[[4, 10, 10, 10, 10, 20, 4, 20]]),
]


def _sent(sent_id: int, sent: str, raw: str = None) -> dict:
    return dict(sent_id=sent_id, sent=sent, raw=sent.capitalize() if raw is None else raw,
                tokens=sent.split())


def _ref(ref_id: int, ann_id: int, image_id: int, category_id: int, split: str,
         sentences: list) -> dict:
    return dict(ref_id=ref_id, ann_id=ann_id, image_id=image_id, category_id=category_id,
                split=split, sentences=sentences, sent_ids=[s['sent_id'] for s in sentences],
                file_name=f'tiny_{image_id:03d}_{ann_id}.jpg')


REFS = [
    _ref(3, 501, 11, 1, 'train', [
        _sent(10, 'the big square on the left', raw='The big square on the LEFT.'),
        _sent(11, 'left square'),
        _sent(12, 'top left box')]),
    _ref(8, 777, 27, 44, 'train', [
        _sent(20, 'red block'), _sent(21, '   '), _sent(22, 'block near the top')]),
    _ref(15, 903, 105, 18, 'val', [_sent(30, 'the tall strip'),
                                   _sent(31, 'narrow thing on the left')]),
    _ref(16, 904, 105, 18, 'val', [_sent(40, 'same strip drawn as a polygon')]),
    _ref(42, 501, 11, 1, 'testA', [
        _sent(50, 'square'), _sent(51, ''), _sent(52, 'the square at the top left')]),
    _ref(57, 777, 27, 44, 'testA', [_sent(60, 'block')]),
    _ref(61, 904, 105, 18, 'testA', [_sent(71, '')]),
    _ref(99, 903, 105, 18, 'testB', [_sent(70, 'strip')]),
    # 'test' must match exactly, not testA/testB as REFER's getRefIds does.
    _ref(120, 777, 27, 44, 'test', [_sent(80, 'bottle at the top')]),
]


def _draw_images() -> None:
    os.makedirs(osp.join(OUT, 'images'), exist_ok=True)
    colours = {501: (40, 90, 220), 777: (220, 40, 40), 903: (230, 210, 30)}
    for info in IMAGES:
        img = np.full((info['height'], info['width'], 3), 200, dtype=np.uint8)
        for ann in ANNOTATIONS:
            if ann['image_id'] == info['id'] and ann['id'] in colours:
                seg = ann['segmentation']
                if isinstance(seg, list):
                    seg = [p for p in seg if len(p) >= 6]
                    rle = mask_utils.merge(
                        mask_utils.frPyObjects(seg, info['height'], info['width']))
                elif isinstance(seg['counts'], list):
                    rle = mask_utils.frPyObjects(seg, info['height'], info['width'])
                else:
                    rle = dict(size=seg['size'], counts=seg['counts'].encode('ascii'))
                img[mask_utils.decode(rle).astype(bool)] = colours[ann['id']]
        Image.fromarray(img).save(osp.join(OUT, 'images', info['file_name']))


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    coco = dict(images=IMAGES, annotations=ANNOTATIONS,
                categories=[dict(id=1, name='person'), dict(id=18, name='dog'),
                            dict(id=44, name='bottle')])
    with open(osp.join(OUT, 'instances.json'), 'w', encoding='utf-8') as f:
        json.dump(coco, f, indent=1, sort_keys=True)
    with open(osp.join(OUT, 'refs(unc).p'), 'wb') as f:
        pickle.dump(REFS, f, protocol=2)
    _draw_images()
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
