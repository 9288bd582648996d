# Copyright (c) mmamlris contributors. All rights reserved.
"""``LoadObjectsMask``: where any annotated object of the image is (oracle ablations)."""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmamlris.registry import TRANSFORMS
from mmamlris.utils import InputValueError
from .loading import decode_segmentation


@TRANSFORMS.register_module()
class LoadObjectsMask(BaseTransform):
    """Decode the union of all annotated objects of the image into ``gt_objects_map``.

    For the oracle ablations of AML that tell background from other objects
    (``OracleScorer(hide='background' | 'distractors')``); the referred object's own mask is
    ``gt_seg_map`` as usual. Place it after ``Resize``: the map is decoded at the annotated
    size and resized (nearest) to ``img_shape`` here, since mmcv's ``Resize`` resizes only
    ``gt_seg_map``. ``PackRISInputs`` packs it as ``data_sample.gt_objects``.

    Required Keys:

    - object_segmentations (list): every object's COCO segmentation
      (``RefCOCODataset(with_objects=True)``)
    - height (int), width (int): the annotated image size
    - img_shape (tuple, optional): the current image size

    Added Keys:

    - gt_objects_map (np.uint8): ``[H, W]`` at ``img_shape``, 1 where any object is
    """

    def transform(self, results: dict) -> dict:
        """Add ``gt_objects_map`` to ``results``."""
        if 'object_segmentations' not in results:
            raise InputValueError(
                f'LoadObjectsMask: {results.get("img_path")} has no object_segmentations; '
                'build the dataset with with_objects=True.')
        height, width = int(results['height']), int(results['width'])
        source = f'{results.get("img_path")} (objects of the image)'
        mask = np.zeros((height, width), dtype=np.uint8)
        for segmentation in results['object_segmentations']:
            mask |= decode_segmentation(segmentation, height, width, source=source)
        shape = tuple(results.get('img_shape', (height, width)))[:2]
        if shape != (height, width):
            mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
        results['gt_objects_map'] = mask
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'
