# Copyright (c) mmamlris contributors. All rights reserved.
"""Generalised referring segmentation metric (gRefCOCO): gIoU, cIoU, N-acc, T-acc."""
from typing import Dict, List, Sequence

from mmamlris.registry import METRICS
from ..iou import gres_record_iou, gres_scores, mask_areas
from .ris_metric import RISMetric


@METRICS.register_module()
class GRESMetric(RISMetric):
    """gIoU, cIoU, N-acc, T-acc and prec@X of generalised RIS (ReLA's corrected definitions).

    An expression may refer to several objects or to none. Each data sample gives a tiny
    record ``dict(i, u, p, target, ref_id, sent_id, split)`` (``p``: predicted area;
    ``target``: the expression refers to something: the ``no_target`` metainfo when present,
    else a non-empty GT), reduced by :func:`mmamlris.evaluation.gres_scores`: an empty
    prediction means "no target"; a correct "no target" scores IoU 1 and adds nothing to ΣI /
    ΣU. Keys: ``gIoU``, ``cIoU``, ``N-acc``, ``T-acc``, ``prec@0.7/0.8/0.9`` (over the target
    expressions), in percent; per split (``'{split}_gIoU'`` ...) when several are evaluated;
    exact under any number of processes (per-sample records, as :class:`RISMetric`).

    Args:
        prec_thresholds (Sequence[float]): Defaults to ``(0.7, 0.8, 0.9)`` (ReLA's).
        **kwargs: The other :class:`RISMetric` arguments (``eval_resolution`` ...).
    """

    def __init__(self, prec_thresholds: Sequence[float] = (0.7, 0.8, 0.9), **kwargs) -> None:
        super().__init__(prec_thresholds=prec_thresholds, **kwargs)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Count I, U and the predicted area of every expression of the batch."""
        for sample in data_samples:
            pred, gt = self._pred_and_gt(sample)
            inter, union, pred_area, gt_area = mask_areas(pred, gt, self.ignore_index)
            no_target = sample.get('no_target')
            target = (not bool(no_target)) if no_target is not None else gt_area > 0
            self.results.append(
                dict(i=inter, u=union, p=pred_area, target=target,
                     ref_id=sample.get('ref_id'), sent_id=sample.get('sent_id'),
                     split=sample.get('split')))

    _iou = staticmethod(gres_record_iou)

    def _reduce(self, results: List[dict]) -> Dict[str, float]:
        return gres_scores(results, self.prec_thresholds)
