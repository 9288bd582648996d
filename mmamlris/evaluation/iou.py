# Copyright (c) mmamlris contributors. All rights reserved.
"""The one IoU of mmamlris: intersection and union of a predicted and a GT mask, and the
RIS scores (mIoU, oIoU, prec@X) of a list of per-expression records."""
from fractions import Fraction
from typing import Dict, Iterable, Mapping, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ['intersect_and_union', 'mask_iou', 'record_iou', 'ris_scores']

ArrayLike = Union[np.ndarray, Tensor]


def intersect_and_union(pred: ArrayLike, gt: ArrayLike,
                        ignore_index: int = 255) -> Tuple[int, int]:
    """Intersection and union of a predicted mask and a GT mask, in pixels.

    The object is ``pred != 0`` and ``gt != 0``; pixels whose GT is ``ignore_index`` count in
    neither. Both masks have the same shape (``[H, W]``, or ``[1, H, W]``).

    Args:
        pred (np.ndarray | Tensor): Predicted mask (labels or bool).
        gt (np.ndarray | Tensor): GT mask: 0 background, 1 object, ``ignore_index`` ignored.
        ignore_index (int): GT value left out. Defaults to 255.

    Returns:
        tuple[int, int]: ``(I, U)`` as Python ints.
    """
    pred = torch.as_tensor(pred)
    gt = torch.as_tensor(gt).to(pred.device)
    if pred.shape != gt.shape:
        raise ValueError(f'intersect_and_union: the prediction is {tuple(pred.shape)} but the '
                         f'GT is {tuple(gt.shape)}.')
    valid = gt != ignore_index
    pred_fg = (pred != 0) & valid
    gt_fg = (gt != 0) & valid
    return int((pred_fg & gt_fg).sum().item()), int((pred_fg | gt_fg).sum().item())


def record_iou(record: Mapping) -> float:
    """``I / U`` of a record with ``i`` and ``u``; 0 when the union is empty."""
    return record['i'] / record['u'] if record['u'] else 0.0


def mask_iou(pred: ArrayLike, gt: ArrayLike, ignore_index: int = 255) -> float:
    """IoU of a predicted and a GT mask (see :func:`intersect_and_union`); 0 if U = 0."""
    inter, union = intersect_and_union(pred, gt, ignore_index)
    return record_iou(dict(i=inter, u=union))


def ris_scores(records: Iterable[Mapping],
               prec_thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9)
               ) -> Dict[str, float]:
    """mIoU, oIoU and prec@X (percent) of per-expression ``(i, u)`` records.

    * ``mIoU``: the mean over expressions of ``I / U`` (``U = 0`` counts as IoU 0, as in
      LAVT and mmdet's ``RefSegMetric``);
    * ``oIoU`` (a.k.a. cIoU): ``ΣI / ΣU``;
    * ``prec@X``: the fraction of expressions with ``IoU >= X``, decided exactly in integers
      (an IoU of exactly 1/2 counts for ``prec@0.5``).

    Args:
        records (Iterable[Mapping]): Records with integer ``i`` and ``u``.
        prec_thresholds (Sequence[float]): The thresholds X.

    Returns:
        dict[str, float]: ``mIoU``, ``oIoU`` and ``prec@X`` (0 for no record).
    """
    records = list(records)
    n = len(records)
    total_i = sum(int(r['i']) for r in records)
    total_u = sum(int(r['u']) for r in records)
    iou_sum = sum(record_iou(r) for r in records)
    out = dict(
        mIoU=100.0 * iou_sum / n if n else 0.0,
        oIoU=100.0 * total_i / total_u if total_u else 0.0)
    for thr in prec_thresholds:
        frac = Fraction(str(float(thr)))
        hits = sum(1 for r in records
                   if r['u'] > 0 and r['i'] * frac.denominator >= frac.numerator * r['u'])
        out[f'prec@{float(thr):g}'] = 100.0 * hits / n if n else 0.0
    return out
