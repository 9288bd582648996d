# Copyright (c) mmamlris contributors. All rights reserved.
"""The one IoU of mmamlris: intersection and union of a predicted and a GT mask, and the
RIS scores (mIoU, oIoU, prec@X) and GRES scores (gIoU, cIoU, N-acc, T-acc) of a list of
per-expression records."""
from fractions import Fraction
from typing import Dict, Iterable, Mapping, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'gres_record_iou', 'gres_scores', 'intersect_and_union', 'mask_areas', 'mask_iou',
    'record_iou', 'resize_labels', 'ris_scores'
]

ArrayLike = Union[np.ndarray, Tensor]


def resize_labels(labels: Tensor, size: Sequence[int]) -> Tensor:
    """A label map ``[..., h, w]`` resized to ``size`` by nearest neighbour (the same tensor
    when it has that size already), keeping its dtype."""
    size = tuple(size)
    if tuple(labels.shape[-2:]) == size:
        return labels
    flat = labels.reshape(-1, 1, *labels.shape[-2:]).float()
    resized = F.interpolate(flat, size=size, mode='nearest')
    return resized.reshape(*labels.shape[:-2], *size).to(labels.dtype)


def mask_areas(pred: ArrayLike, gt: ArrayLike,
               ignore_index: int = 255) -> Tuple[int, int, int, int]:
    """``(I, U, |pred|, |gt|)`` in pixels, over the pixels whose GT is not ``ignore_index``.

    The one counting primitive: :func:`intersect_and_union` returns its first two values.
    """
    pred = torch.as_tensor(pred)
    gt = torch.as_tensor(gt).to(pred.device)
    if pred.shape != gt.shape:
        raise ValueError(f'intersect_and_union: the prediction is {tuple(pred.shape)} but the '
                         f'GT is {tuple(gt.shape)}.')
    valid = gt != ignore_index
    pred_fg = (pred != 0) & valid
    gt_fg = (gt != 0) & valid
    return (int((pred_fg & gt_fg).sum().item()), int((pred_fg | gt_fg).sum().item()),
            int(pred_fg.sum().item()), int(gt_fg.sum().item()))


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
    return mask_areas(pred, gt, ignore_index)[:2]


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
        hits = sum(_hits(int(r['i']), int(r['u']), thr) for r in records)
        out[f'prec@{float(thr):g}'] = 100.0 * hits / n if n else 0.0
    return out


def _hits(i: int, u: int, thr: float) -> bool:
    """``I / U >= thr``, decided exactly in integers (``U > 0``)."""
    frac = Fraction(str(float(thr)))
    return u > 0 and i * frac.denominator >= frac.numerator * u


def gres_record_iou(record: Mapping) -> float:
    """IoU of a GRES record: 1 for a correct "no target" (empty GT and prediction), else
    :func:`record_iou`."""
    if not record['target'] and record['p'] == 0:
        return 1.0
    return record_iou(record)


def gres_scores(records: Iterable[Mapping],
                prec_thresholds: Sequence[float] = (0.7, 0.8, 0.9)) -> Dict[str, float]:
    """GRES scores (percent) of per-expression records, ReLA's corrected definitions.

    A record holds ``i``, ``u``, ``p`` (predicted area) and ``target`` (whether the
    expression refers to anything). A prediction is "no target" when it is empty:

    * no target, empty prediction: IoU 1, nothing added to ΣI / ΣU;
    * no target, non-empty prediction: IoU 0, its area in ΣU (``u = p`` then);
    * target, empty prediction: IoU 0, the GT area in ΣU (``u`` = GT area then);
    * otherwise ``I / U``.

    Returns:
        dict[str, float]: ``gIoU`` (mean IoU over all expressions), ``cIoU`` (ΣI / ΣU),
        ``N-acc`` (no-target expressions predicted empty / no-target expressions), ``T-acc``
        (target expressions predicted non-empty / target expressions) and ``prec@X`` over
        the target expressions; a ratio without any expression to count is 0.
    """
    records = list(records)
    targets = [r for r in records if r['target']]
    empties = [r for r in records if not r['target']]
    total_u = sum(int(r['u']) for r in records)
    out = {
        'gIoU': 100.0 * sum(gres_record_iou(r) for r in records) / len(records)
        if records else 0.0,
        'cIoU': 100.0 * sum(int(r['i']) for r in records) / total_u if total_u else 0.0,
        'N-acc': 100.0 * sum(r['p'] == 0 for r in empties) / len(empties) if empties else 0.0,
        'T-acc': 100.0 * sum(r['p'] > 0 for r in targets) / len(targets) if targets else 0.0,
    }
    for thr in prec_thresholds:
        hits = sum(_hits(int(r['i']), int(r['u']), thr) for r in targets)
        out[f'prec@{float(thr):g}'] = 100.0 * hits / len(targets) if targets else 0.0
    return out
