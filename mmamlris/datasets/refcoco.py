# Copyright (c) mmamlris contributors. All rights reserved.
"""RefCOCO / RefCOCO+ / RefCOCOg (and SynRef) in the REFER layout."""
import logging
import os.path as osp
from typing import Dict, List, Tuple

from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs

from mmamlris.registry import DATASETS
from mmamlris.utils.errors import InputFileNotFoundError, InputValueError
from .refer_io import load_instances, load_refs

_REQUIRED_REF_KEYS = ('ref_id', 'ann_id', 'image_id', 'split', 'sentences')
_TEXT_FIELDS = ('sent', 'raw')
_MISSING_DATA_HINT = (
    "RefCOCO's original download links are dead: docs/en/datasets.md explains where the "
    'files come from and the expected layout '
    '(data/coco/train2014/, data/refcoco/{instances.json, refs(unc).p}, ...). SynRef, a '
    'synthetic dataset in the same layout, can be generated with '
    '`python tools/dataset_converters/synref.py`.')


@DATASETS.register_module()
class RefCOCODataset(BaseDataset):
    """A referring segmentation dataset in the REFER layout (RefCOCO, RefCOCO+, RefCOCOg,
    SynRef).

    The arguments follow mmdet's ``RefCocoDataset``. Unlike it, no sentence is chosen when the
    list is built:

    * ``test_mode=True``: **one item per referring expression** (every sentence of every ref
      in ``split``), as scored by CARIS/LAVT/mmdet ``text_mode='original'``. Keys: ``img_path,
      img_id, height, width, ref_id, ann_id, sent_id, text, category_id, segmentation, split``.
    * ``test_mode=False``: **one item per ref** with ``sentences=[{'sent_id', 'text'}, ...]``
      instead of ``sent_id``/``text``; the ``SampleExpression`` transform draws one sentence on
      every visit, so each epoch sees other expressions (CARIS's ``ReferDataset``).

    ``segmentation`` is the COCO annotation's polygon list or RLE dict, as stored; the
    ``LoadReferringMask`` transform decodes it. Image files are only opened by the pipeline.

    Empty or whitespace-only sentences are dropped with one warning, and so are refs left
    without any sentence.

    Args:
        data_root (str): Root that ``ann_file``, ``split_file`` and ``data_prefix`` are
            relative to. Defaults to ''.
        ann_file (str): COCO ``instances.json``, e.g. ``'refcoco/instances.json'``.
        split_file (str): REFER refs pickle, e.g. ``'refcoco/refs(unc).p'``. It is loaded with
            an unpickler that refuses any global (see :func:`load_refs`).
        data_prefix (dict): ``img_path``: directory of the images, e.g.
            ``'coco/train2014/'``. Defaults to ``dict(img_path='train2014/')``.
        split (str): Name of the split, matched exactly against ``ref['split']`` (``'train'``,
            ``'val'``, ``'testA'``, ``'testB'``, ``'test'`` ...). Defaults to ``'train'``.
        text_field (str): Sentence field used as the expression: ``'sent'`` (the cleaned,
            lower-case text CARIS uses) or ``'raw'`` (as typed by the annotator; LAVT
            reads this one). Defaults to ``'sent'``.
        with_objects (bool): Also give every item ``object_segmentations``, the segmentations
            of all annotated objects of its image (the referred one included), for
            ``LoadObjectsMask`` (the oracle ablations that hide only background or only other
            objects). Defaults to False.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments (``pipeline``,
            ``test_mode``, ``serialize_data``, ``lazy_init``, ``indices``, ...).

    Raises:
        FileNotFoundError: If ``data_root``, ``ann_file`` or ``split_file`` does not exist
            (when the data list is loaded, i.e. at construction unless ``lazy_init=True``).
        ValueError: If ``split`` is not in the refs file (the message lists the splits that
            are), or a ref lacks a required key or points at an annotation / image that is not
            in ``ann_file``.
    """

    METAINFO = dict(
        classes=('background', 'object'), palette=[[0, 0, 0], [255, 64, 64]])

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 split_file: str = '',
                 data_prefix: dict = dict(img_path='train2014/'),
                 split: str = 'train',
                 text_field: str = 'sent',
                 with_objects: bool = False,
                 **kwargs) -> None:
        if text_field not in _TEXT_FIELDS:
            raise InputValueError(f'text_field must be one of {_TEXT_FIELDS}, got {text_field!r}.')
        if not split_file:
            raise InputValueError('RefCOCODataset needs split_file, the refs pickle '
                                  "(e.g. 'refcoco/refs(unc).p').")
        if not ann_file:
            raise InputValueError('RefCOCODataset needs ann_file, the COCO instances file '
                                  "(e.g. 'refcoco/instances.json').")
        self.split_file = split_file
        self.split = split
        self.text_field = text_field
        self.with_objects = with_objects
        super().__init__(
            data_root=data_root, ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def _join_prefix(self) -> None:
        """Join ``data_root`` onto ``split_file`` too (the base class does the rest)."""
        super()._join_prefix()
        if self.data_root and not is_abs(self.split_file):
            self.split_file = join_path(self.data_root, self.split_file)

    def _check_files_exist(self) -> None:
        if self.data_root and not osp.isdir(self.data_root):
            raise InputFileNotFoundError(
                f'RefCOCODataset: data_root {self.data_root} does not exist. '
                f'{_MISSING_DATA_HINT}')
        for what, path in (('ann_file', self.ann_file), ('split_file', self.split_file)):
            if not osp.isfile(path):
                raise InputFileNotFoundError(
                    f'RefCOCODataset: {what} {path} does not exist. {_MISSING_DATA_HINT}')

    def load_data_list(self) -> List[dict]:
        """Build the items of ``self.split`` from the refs pickle and ``instances.json``.

        Returns:
            list[dict]: One item per expression (``test_mode``) or per ref (training).
        """
        self._check_files_exist()
        refs = load_refs(self.split_file)
        for ref in refs:
            self._check_ref_keys(ref)
        split_refs = [ref for ref in refs if ref['split'] == self.split]
        if not split_refs:
            present = sorted({str(ref['split']) for ref in refs})
            raise InputValueError(f'Split {self.split!r} is not in {self.split_file}; the splits '
                                  f'present are {present} (matched exactly).')

        images, anns = load_instances(self.ann_file)
        objects: Dict[int, list] = {}
        if self.with_objects:
            for ann in anns.values():
                if 'segmentation' in ann:
                    objects.setdefault(ann.get('image_id'), []).append(ann['segmentation'])
        img_prefix = self.data_prefix.get('img_path', '')
        data_list: List[dict] = []
        dropped_sents: List[Tuple[int, int]] = []
        dropped_refs = 0
        for ref in split_refs:
            base = self._ref_base_info(ref, images, anns, img_prefix)
            if self.with_objects:
                base['object_segmentations'] = objects.get(ref['image_id'], [])
            sentences = self._ref_sentences(ref, dropped_sents)
            if not sentences:
                dropped_refs += 1
                continue
            if self.test_mode:
                for sent in sentences:
                    data_list.append(dict(base, **sent))
            else:
                data_list.append(dict(base, sentences=sentences))

        if dropped_sents:
            print_log(
                f'{self.split_file} (split {self.split!r}): dropped {len(dropped_sents)} empty '
                f'or whitespace-only expressions, (ref_id, sent_id) = {dropped_sents[:5]}'
                f'{" ..." if len(dropped_sents) > 5 else ""}, and {dropped_refs} refs left '
                'without any expression.',
                logger='current',
                level=logging.WARNING)
        return data_list

    def _check_ref_keys(self, ref: dict) -> None:
        for key in _REQUIRED_REF_KEYS:
            if key not in ref:
                raise InputValueError(f'{self.split_file}: ref {ref.get("ref_id", "<no ref_id>")} '
                                      f'has no {key!r}; a ref needs {list(_REQUIRED_REF_KEYS)}.')

    def _ref_base_info(self, ref: dict, images: Dict[int, dict], anns: Dict[int, dict],
                       img_prefix: str) -> dict:
        """The fields an item takes from the ref, its annotation and its image."""
        ann = anns.get(ref['ann_id'])
        if ann is None:
            raise InputValueError(f'{self.split_file}: ref {ref["ref_id"]} points at ann_id '
                                  f'{ref["ann_id"]}, which is not in {self.ann_file}; do the two '
                                  'files belong to the same dataset?')
        if 'segmentation' not in ann:
            raise InputValueError(f'{self.ann_file}: annotation {ref["ann_id"]} (ref '
                                  f'{ref["ref_id"]}) has no "segmentation".')
        return dict(
            self._ref_image_info(ref, images, img_prefix),
            ann_id=ref['ann_id'],
            category_id=ref.get('category_id', ann.get('category_id')),
            segmentation=ann['segmentation'])

    def _ref_image_info(self, ref: dict, images: Dict[int, dict], img_prefix: str) -> dict:
        """The fields an item takes from the ref and its image (not from its target)."""
        img = images.get(ref['image_id'])
        if img is None:
            raise InputValueError(
                f'{self.split_file}: ref {ref["ref_id"]} points at image_id {ref["image_id"]}, '
                f'which is not in {self.ann_file}; do the two files belong to the same dataset?')
        for key in ('file_name', 'height', 'width'):
            if key not in img:
                raise InputValueError(f'{self.ann_file}: image {ref["image_id"]} (ref '
                                      f'{ref["ref_id"]}) has no {key!r}.')
        return dict(
            img_path=join_path(img_prefix, img['file_name']) if img_prefix else
            img['file_name'],
            img_id=ref['image_id'],
            height=img['height'],
            width=img['width'],
            ref_id=ref['ref_id'],
            split=ref['split'])

    def _ref_sentences(self, ref: dict,
                       dropped: List[Tuple[int, int]]) -> List[Dict[str, object]]:
        """``[{'sent_id', 'text'}]`` of a ref, without empty ones (recorded in ``dropped``)."""
        sentences = []
        for sent in ref['sentences']:
            for key in ('sent_id', self.text_field):
                if not isinstance(sent, dict) or key not in sent:
                    raise InputValueError(f'{self.split_file}: a sentence of ref {ref["ref_id"]} '
                                          f'has no {key!r}.')
            text = sent[self.text_field]
            if not isinstance(text, str):
                raise InputValueError(f'{self.split_file}: sentence {sent["sent_id"]} of ref '
                                      f'{ref["ref_id"]} has a {type(text).__name__} '
                                      f'{self.text_field!r}, expected str.')
            if not text.strip():
                dropped.append((ref['ref_id'], sent['sent_id']))
                continue
            sentences.append(dict(sent_id=sent['sent_id'], text=text))
        return sentences

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(split_file={self.split_file!r}, '
                f'split={self.split!r}, test_mode={self.test_mode}, '
                f'text_field={self.text_field!r})')
