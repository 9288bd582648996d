# Copyright (c) mmamlris contributors. All rights reserved.
"""Letterbox: resize keeping the aspect ratio and centre the image on a square canvas."""
from typing import Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmamlris.registry import TRANSFORMS
from mmamlris.utils.errors import InputValueError

__all__ = ['LetterBox', 'letterbox_matrices']

#: CLIP's mean colour in 0-255, BGR order (images stay BGR as cv2 loads them).
CLIP_MEAN_BGR = (0.40821073 * 255, 0.4578275 * 255, 0.48145466 * 255)


def letterbox_matrices(ori_shape: Tuple[int, int], size: Tuple[int, int]
                       ) -> Tuple[np.ndarray, np.ndarray, Tuple[float, float, float, float]]:
    """The affine maps of a centred letterbox, as DETRIS computes them.

    Args:
        ori_shape (tuple[int, int]): ``(h, w)`` of the image.
        size (tuple[int, int]): ``(H, W)`` of the canvas.

    Returns:
        tuple: ``matrix`` (image -> canvas) and ``inverse`` (canvas -> image), float64
        ``[2, 3]`` for ``cv2.warpAffine``, and the image's box on the canvas
        ``(x0, y0, x1, y1)`` in pixels (fractional).
    """
    ori_h, ori_w = ori_shape
    out_h, out_w = size
    scale = min(out_h / ori_h, out_w / ori_w)
    new_w, new_h = ori_w * scale, ori_h * scale
    left, top = (out_w - new_w) / 2., (out_h - new_h) / 2.
    # Three corresponding points in float32, as DETRIS passes them to getAffineTransform.
    src = np.array([[0, 0], [ori_w, 0], [0, ori_h]], np.float32)
    dst = np.array([[left, top], [new_w + left, top], [left, new_h + top]], np.float32)
    return (cv2.getAffineTransform(src, dst), cv2.getAffineTransform(dst, src),
            (left, top, left + new_w, top + new_h))


@TRANSFORMS.register_module()
class LetterBox(BaseTransform):
    """Scale the image to fit a ``size`` canvas, keep its aspect ratio and centre it.

    DETRIS's input: ``cv2.warpAffine`` with bicubic interpolation, the border filled with
    ``pad_val`` (CLIP's mean colour). A GT present at this point (training) is warped too:
    ``gt_seg_map`` with nearest neighbours (labels and ``ignore`` kept) and, with
    ``soft_seg=True``, the soft target DETRIS trains on: the 0/255 mask warped bilinearly and
    divided by 255 (``gt_soft_seg_map``, float32 in ``[0, 1]``; fractional on the object's
    border). A GT loaded after this transform stays at the original size (evaluation); the
    segmentor maps its prediction back with ``letterbox_inverse``.

    Required Keys: ``img``; optional ``gt_seg_map``.

    Modified Keys: ``img``, ``img_shape``, ``gt_seg_map``.

    Added Keys: ``gt_soft_seg_map`` (with a GT and ``soft_seg``), ``scale_factor``,
    ``letterbox_inverse`` (``[2, 3]`` list, canvas -> image, for ``cv2.warpAffine``) and
    ``letterbox_box`` (``(x0, y0, x1, y1)`` of the image on the canvas).

    Args:
        size (int | tuple[int, int]): Canvas ``(H, W)``. Defaults to 448.
        pad_val (float | Sequence[float]): Border colour in the image's channel order.
            Defaults to CLIP's mean in BGR (cv2 loads BGR).
        soft_seg (bool): Also give the bilinearly warped soft target. Defaults to True.
    """

    def __init__(self,
                 size: Union[int, Sequence[int]] = 448,
                 pad_val: Union[float, Sequence[float]] = CLIP_MEAN_BGR,
                 soft_seg: bool = True) -> None:
        size = (size, size) if isinstance(size, int) else tuple(size)
        if len(size) != 2 or any(not isinstance(s, int) or s <= 0 for s in size):
            raise ValueError(f'LetterBox: size must be a positive int or (H, W), got {size!r}.')
        self.size = size
        self.pad_val = pad_val
        self.soft_seg = soft_seg

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.shape[0] == 0 or img.shape[1] == 0:
            raise InputValueError(f'LetterBox: {results.get("img_path")} is empty '
                                  f'({img.shape}).')
        matrix, inverse, box = letterbox_matrices(img.shape[:2], self.size)
        canvas = (self.size[1], self.size[0])  # cv2 wants (W, H)
        pad = self.pad_val if np.isscalar(self.pad_val) else [float(v) for v in self.pad_val]
        results['img'] = cv2.warpAffine(img, matrix, canvas, flags=cv2.INTER_CUBIC,
                                        borderValue=pad)
        if 'gt_seg_map' in results:
            gt = np.asarray(results['gt_seg_map'])
            if gt.shape[:2] != img.shape[:2]:
                raise InputValueError(
                    f'LetterBox: the GT of {results.get("img_path")} is {gt.shape[:2]} but the '
                    f'image {img.shape[:2]}; load the mask before LetterBox only at the image '
                    'size.')
            if self.soft_seg:
                binary = ((gt == 1) * 255).astype(np.uint8)  # DETRIS's 0/255 mask
                soft = cv2.warpAffine(binary, matrix, canvas, flags=cv2.INTER_LINEAR,
                                      borderValue=0)
                results['gt_soft_seg_map'] = soft.astype(np.float32) / 255.
            results['gt_seg_map'] = cv2.warpAffine(gt.astype(np.uint8), matrix, canvas,
                                                   flags=cv2.INTER_NEAREST, borderValue=0)
        scale = box[2] - box[0]
        results['img_shape'] = self.size
        results['scale_factor'] = (scale / img.shape[1], scale / img.shape[1])
        results['letterbox_inverse'] = inverse.tolist()
        results['letterbox_box'] = tuple(float(v) for v in box)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, pad_val={self.pad_val}, '
                f'soft_seg={self.soft_seg})')
