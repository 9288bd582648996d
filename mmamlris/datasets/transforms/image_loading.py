# Copyright (c) mmamlris contributors. All rights reserved.
"""Load an image and say clearly what is wrong when it cannot be loaded."""
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio

from mmamlris.registry import TRANSFORMS
from mmamlris.utils.errors import InputFileNotFoundError, InputValueError

__all__ = ['LoadRISImageFromFile', 'diagnose_image_bytes']

_JPEG, _PNG = b'\xff\xd8\xff', b'\x89PNG\r\n\x1a\n'


def diagnose_image_bytes(data: bytes) -> str:
    """Why OpenCV could not decode ``data``: empty, truncated JPEG / PNG, or not an image."""
    if not data:
        return 'the file is empty (0 bytes)'
    if data.startswith(_JPEG):
        if b'\xff\xd9' not in data[-1024:]:
            return f'the JPEG is truncated (no end-of-image marker; {len(data)} bytes)'
        return f'the JPEG data are corrupt ({len(data)} bytes)'
    if data.startswith(_PNG):
        if b'IEND' not in data[-64:]:
            return f'the PNG is truncated (no IEND chunk; {len(data)} bytes)'
        return f'the PNG data are corrupt ({len(data)} bytes)'
    return f'it is not an image OpenCV can read (first bytes {data[:8]!r})'


@TRANSFORMS.register_module()
class LoadRISImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with errors that name the image, the ref and the fix.

    Decoding is mmcv's (OpenCV, ``color_type='color'`` by default), so the pixels are exactly
    those of ``LoadImageFromFile``. What it does with unusual files:

    ============================  ==============================================================
    file                          result
    ============================  ==============================================================
    grayscale / palette / CMYK    converted to 3-channel BGR uint8 (by OpenCV)
    RGBA / LA                     alpha dropped, 3-channel BGR uint8
    16-bit PNG / TIFF             scaled to 8 bits (OpenCV divides by 256)
    missing                       ``FileNotFoundError`` naming the file and the ref
    empty / truncated / corrupt   ``ValueError`` naming the file, the reason (empty, truncated
                                  JPEG without end marker, truncated PNG without IEND, corrupt
                                  data, not an image) and what to do
    ============================  ==============================================================

    Both errors are :class:`~mmamlris.utils.errors.InputError`, which ``tools/train.py`` and
    ``tools/test.py`` print without a traceback, also from dataloader worker processes.

    Required keys: ``img_path``; used in messages when present: ``img_id``, ``ref_id``.
    Added keys: ``img``, ``img_shape``, ``ori_shape``.
    """

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        what = self._describe(results)
        try:
            data = fileio.get(filename, backend_args=self.backend_args)
        except FileNotFoundError:
            if self.ignore_empty:
                return None
            raise InputFileNotFoundError(
                f'Image {filename} ({what}) does not exist. Check data_root and '
                'data_prefix.img_path of the dataset config, and that the images were extracted '
                'there (README, "Data").') from None
        img = None
        if data:
            try:
                img = mmcv.imfrombytes(data, flag=self.color_type,
                                       backend=self.imdecode_backend)
            except Exception:  # decoders raise their own types on bad data
                img = None
        if img is None or img.size == 0:
            if self.ignore_empty:
                return None
            raise InputValueError(
                f'Image {filename} ({what}) cannot be decoded: {diagnose_image_bytes(data)}. '
                'Re-download or re-extract it, or delete the refs that use this image from the '
                'refs file.')
        if img.dtype != np.uint8:  # color_type='unchanged' keeps 16-bit data
            raise InputValueError(
                f'Image {filename} ({what}) decodes to {img.dtype} pixels; the models expect '
                "uint8. Use color_type='color' (the default), which converts it to 8 bits.")
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    @staticmethod
    def _describe(results: dict) -> str:
        parts = [f'{key} {results[key]}' for key in ('img_id', 'ref_id') if key in results]
        return ', '.join(parts) if parts else 'no image id'
