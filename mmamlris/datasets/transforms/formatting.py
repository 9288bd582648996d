# Copyright (c) mmamlris contributors. All rights reserved.
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmamlris.registry import TRANSFORMS
from mmamlris.utils.errors import InputValueError

_TOKEN_FIELDS = ('text_token_ids', 'text_attention_mask')


@TRANSFORMS.register_module()
class PackRISInputs(BaseTransform):
    """Pack a referring segmentation sample for the data preprocessor and the segmentor.

    Required Keys:

    - img (np.ndarray): ``[H, W, C]`` or ``[H, W]`` (BGR as loaded by ``LoadImageFromFile``)
    - gt_seg_map (np.ndarray, optional): ``[H', W']`` with 0/1 (255 = ignore)
    - gt_objects_map (np.ndarray, optional): ``[H, W]`` 0/1, all objects (``LoadObjectsMask``)
    - gt_soft_seg_map (np.ndarray, optional): ``[H', W']`` float in ``[0, 1]`` (``LetterBox``)
    - text_token_ids (np.ndarray, optional): int ``[L]``
    - text_attention_mask (np.ndarray, optional): int ``[L]``
    - the ``meta_keys`` that are present

    Returns a dict with

    - inputs (torch.Tensor): ``[C, H, W]`` contiguous, dtype of ``img`` (uint8 as loaded);
      a 2-D grayscale image gives ``[1, H, W]``.
    - data_samples (SegDataSample): ``gt_sem_seg`` (``PixelData``, int64 ``[1, H', W']``) when
      ``gt_seg_map`` is present, ``gt_objects`` likewise from ``gt_objects_map``,
      ``gt_soft_seg`` (float32 ``[1, H', W']``) from ``gt_soft_seg_map``; the data
      fields ``text_token_ids`` and ``text_attention_mask`` (int64 ``[L]``, moved to the
      device with the sample); the metainfo of the ``meta_keys`` present in ``results``.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo when present. Defaults to
            ``('img_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'text',
            'ref_id', 'sent_id', 'ann_id', 'category_id', 'split', 'no_target',
            'letterbox_inverse', 'letterbox_box')``.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'ori_shape', 'img_shape',
                                             'pad_shape', 'scale_factor', 'text', 'ref_id',
                                             'sent_id', 'ann_id', 'category_id', 'split',
                                             'no_target', 'letterbox_inverse', 'letterbox_box')
                 ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results`` into ``inputs`` and ``data_samples``.

        Args:
            results (dict): The result dict.

        Returns:
            dict: ``inputs`` (torch.Tensor) and ``data_samples`` (SegDataSample).
        """
        packed = dict()
        if 'img' in results:
            img = results['img']
            if img.ndim == 2:
                img = img[..., None]
            packed['inputs'] = torch.from_numpy(
                np.ascontiguousarray(img.transpose(2, 0, 1)))

        data_sample = SegDataSample()
        if 'gt_seg_map' in results:
            gt = np.asarray(results['gt_seg_map'])
            if gt.ndim != 2:
                raise InputValueError(f'PackRISInputs: gt_seg_map of {results.get("img_path")} '
                                      f'should be [H, W], got shape {gt.shape}.')
            data_sample.gt_sem_seg = PixelData(
                data=torch.from_numpy(gt[None].astype(np.int64)))
        if 'gt_objects_map' in results:  # LoadObjectsMask (oracle ablations)
            data_sample.gt_objects = PixelData(
                data=torch.from_numpy(np.asarray(results['gt_objects_map'])[None].astype(
                    np.int64)))
        if 'gt_soft_seg_map' in results:  # LetterBox (DETRIS's soft target)
            data_sample.gt_soft_seg = PixelData(data=torch.from_numpy(
                np.asarray(results['gt_soft_seg_map'], dtype=np.float32)[None].copy()))
        for key in _TOKEN_FIELDS:
            if key in results:
                data_sample.set_field(
                    torch.from_numpy(np.asarray(results[key], dtype=np.int64)),
                    key, field_type='data')

        data_sample.set_metainfo(
            {key: results[key] for key in self.meta_keys if key in results})
        packed['data_samples'] = data_sample
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
