# Copyright (c) mmamlris contributors. All rights reserved.
from typing import Union

import numpy as np
from mmcv.transforms import BaseTransform
from pycocotools import mask as mask_utils

from mmamlris.registry import TRANSFORMS
from mmamlris.utils.errors import InputValueError


def decode_segmentation(segmentation: Union[list, dict], height: int, width: int,
                        source: str = '') -> np.ndarray:
    """Decode a COCO segmentation (polygons or RLE) into a binary mask, as ``REFER.getMask``.

    Args:
        segmentation (list | dict): Either a list of polygons ``[[x0, y0, x1, y1, ...], ...]``
            whose parts are merged, or an RLE dict ``{'size': [h, w], 'counts': ...}`` with
            ``counts`` a list (uncompressed) or a ``str``/``bytes`` (compressed).
            Polygon parts with fewer than 3 points enclose no area and are skipped
            (``frPyObjects`` would misread a first part of exactly 2 points as a box).
        height (int): Image height H.
        width (int): Image width W.
        source (str): What the mask belongs to, for error messages.

    Returns:
        np.ndarray: uint8 mask ``[H, W]`` with values in {0, 1} (all zeros if nothing is
        left).
    """
    if isinstance(segmentation, list):
        parts = []
        for part in segmentation:
            if not isinstance(part, (list, tuple)) or len(part) % 2:
                raise InputValueError(f'{source}: a polygon must be a flat list of x, y '
                                      f'coordinates, got {part!r:.80}.')
            if len(part) >= 6:
                parts.append([float(c) for c in part])
        if not parts:
            return np.zeros((height, width), dtype=np.uint8)
        rle = mask_utils.merge(mask_utils.frPyObjects(parts, height, width))
    elif isinstance(segmentation, dict):
        if 'counts' not in segmentation or 'size' not in segmentation:
            raise InputValueError(f'{source}: an RLE segmentation needs "counts" and "size", got '
                                  f'the keys {sorted(segmentation)}.')
        if list(segmentation['size']) != [height, width]:
            raise InputValueError(f'{source}: the RLE size {list(segmentation["size"])} differs '
                                  f'from the image size [{height}, {width}] (height, width).')
        counts = segmentation['counts']
        if isinstance(counts, list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        elif isinstance(counts, (str, bytes)):
            rle = dict(size=[height, width],
                       counts=counts.encode('ascii') if isinstance(counts, str) else counts)
        else:
            raise InputValueError(f'{source}: RLE counts must be a list, str or bytes, got '
                                  f'{type(counts).__name__}.')
    else:
        raise InputValueError(f'{source}: a segmentation must be a polygon list or an RLE dict, '
                              f'got {type(segmentation).__name__}.')
    mask = mask_utils.decode(rle)
    return np.ascontiguousarray(mask, dtype=np.uint8)


@TRANSFORMS.register_module()
class LoadReferringMask(BaseTransform):
    """Decode the referred object's COCO segmentation into the GT mask.

    Place it before ``Resize`` in training (the mask is resized with nearest) and after it at
    test time, so that the GT stays at the original image size.

    Required Keys:

    - segmentation (list | dict): COCO polygons or RLE (see :func:`decode_segmentation`),
      or
    - segmentations (list): one segmentation per referred object (gRefCOCO); the GT is their
      union, all zeros for an empty list (an expression without target)
    - height (int), width (int): the size recorded in ``instances.json``
    - ori_shape (tuple, optional): size of the loaded image, checked against height/width
    - img_path (str, optional): for error messages

    Added Keys:

    - gt_seg_map (np.uint8): ``[height, width]``, 0 background, 1 referred object

    Modified Keys:

    - seg_fields (list): ``'gt_seg_map'`` appended (the list is created if absent)
    """

    def transform(self, results: dict) -> dict:
        """Add ``gt_seg_map`` to ``results``.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict with ``gt_seg_map``.
        """
        height, width = int(results['height']), int(results['width'])
        img_path = results.get('img_path', '<unknown image>')
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(ori_shape[:2]) != (height, width):
            raise InputValueError(
                f'Image {img_path} is {ori_shape[0]}x{ori_shape[1]} (HxW) but its annotation '
                f'says {height}x{width}; the image does not belong to this instances file.')
        source = f'{img_path} (ref {results.get("ref_id")}, ann {results.get("ann_id")})'
        if 'segmentations' in results:  # several targets, or none
            mask = np.zeros((height, width), dtype=np.uint8)
            for segmentation in results['segmentations']:
                mask |= decode_segmentation(segmentation, height, width, source=source)
            results['gt_seg_map'] = mask
        else:
            results['gt_seg_map'] = decode_segmentation(
                results['segmentation'], height, width, source=source)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'


def referred_mask(results: dict, caller: str) -> np.ndarray:
    """``[H, W]`` bool: the referred object(s) of a sample, decoded from its annotation as
    :class:`LoadReferringMask` does, without adding anything to ``results`` (for transforms
    that act on the object before the pipeline loads the GT).

    Raises:
        InputValueError: Naming ``caller``, if the mask's size is not ``results['img']``'s
            (the transform was placed after a resize).
    """
    keys = ('segmentation', 'segmentations', 'height', 'width', 'img_path', 'ref_id', 'ann_id',
            'ori_shape')
    probe = LoadReferringMask().transform({k: results[k] for k in keys if k in results})
    mask = probe['gt_seg_map'].astype(bool)
    size = results['img'].shape[:2]
    if mask.shape != size:
        raise InputValueError(
            f'{caller}: image {results.get("img_path")} is {size} but its referred mask is '
            f'{mask.shape}; place it before any resize.')
    return mask
