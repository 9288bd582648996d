# Copyright (c) mmamlris contributors. All rights reserved.
"""gRefCOCO (generalised referring segmentation): expressions with several targets or none."""
from typing import Dict, List

from mmamlris.registry import DATASETS
from mmamlris.utils.errors import InputValueError
from .refcoco import RefCOCODataset


@DATASETS.register_module()
class GRefCOCODataset(RefCOCODataset):
    """gRefCOCO in the ReLA layout: ``grefcoco/{grefs(unc).json, instances.json}``.

    The same arguments, items, splits (``train``, ``val``, ``testA``, ``testB``) and errors as
    :class:`RefCOCODataset`, of which it changes one step: what a ref points at. A gRefCOCO
    ref's ``ann_id`` is an int or a list of ints; ``[-1]`` (or ``no_target=True`` in the ref)
    means the expression names nothing in the image. Every item carries

    - ``segmentations``: the COCO segmentation of every referred object (empty for no target);
      :class:`~mmamlris.datasets.transforms.LoadReferringMask` draws their union;
    - ``ann_id``: the list of annotation ids (``[]`` for no target);
    - ``no_target`` (bool), which ``PackRISInputs`` puts in the metainfo for ``GRESMetric``.

    ``split_file`` may be the JSON file (``'grefs(unc).json'``) or a pickle of the same list
    (read with the restricted unpickler of :func:`~mmamlris.datasets.load_refs`).
    """

    def _ref_base_info(self, ref: dict, images: Dict[int, dict], anns: Dict[int, dict],
                       img_prefix: str) -> dict:
        ann_ids = self._target_ids(ref)
        segmentations = []
        for ann_id in ann_ids:
            ann = anns.get(ann_id)
            if ann is None or 'segmentation' not in ann:
                raise InputValueError(
                    f'{self.split_file}: ref {ref["ref_id"]} points at ann_id {ann_id}, which '
                    f'is not in {self.ann_file} or has no "segmentation"; do the two files '
                    'belong to the same dataset?')
            segmentations.append(ann['segmentation'])
        category = ref.get('category_id')
        if category is None and ann_ids:
            category = anns[ann_ids[0]].get('category_id')
        return dict(self._ref_image_info(ref, images, img_prefix), ann_id=ann_ids,
                    category_id=category, segmentations=segmentations, no_target=not ann_ids)

    def _target_ids(self, ref: dict) -> List[int]:
        """The annotation ids a ref refers to; ``[]`` for an expression without target."""
        ann_id = ref['ann_id']
        ids = list(ann_id) if isinstance(ann_id, (list, tuple)) else [ann_id]
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise InputValueError(f'{self.split_file}: ref {ref["ref_id"]} has ann_id '
                                  f'{ann_id!r}; expected an int or a list of ints.')
        if ref.get('no_target') or ids == [-1] or not ids:
            return []
        if -1 in ids:
            raise InputValueError(f'{self.split_file}: ref {ref["ref_id"]} mixes -1 (no target) '
                                  f'with annotation ids: {ann_id!r}.')
        return ids
