# Copyright (c) mmamlris contributors. All rights reserved.
"""Referring image segmentation metric: mIoU, oIoU and prec@X per expression."""
import json
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from torch import Tensor

from mmamlris.registry import METRICS
from ..iou import intersect_and_union, record_iou, resize_labels, ris_scores

_PROTOCOLS = {
    'original': 'original (mmseg/mmdet/CRIS protocol: prediction and GT at the original '
                'image size)',
    'resized': 'resized (CARIS/LAVT protocol: prediction and nearest-resized GT at the '
               'network input size)',
}


@METRICS.register_module()
class RISMetric(BaseMetric):
    """mIoU, oIoU and prec@X of referring image segmentation (``docs/en/evaluation.md``).

    Every data sample is one referring expression. For each one, :meth:`process` keeps only a
    tiny record ``dict(i, u, ref_id, sent_id, split)``: the intersection ``I = |P ∧ G|`` and
    the union ``U = |P ∨ G|`` as python ints, counted over the pixels whose GT is not
    ``ignore_index`` (:func:`mmamlris.evaluation.intersect_and_union`, the one IoU primitive
    of the project). :meth:`compute_metrics` then
    reports, in percent (:func:`mmamlris.evaluation.ris_scores`):

    * ``mIoU``: the mean over expressions of ``I / U`` (``U = 0``, i.e. an empty prediction on
      an empty GT, counts as IoU 0, as in LAVT and mmdet's ``RefSegMetric``);
    * ``oIoU`` (a.k.a. cIoU, overall IoU): ``ΣI / ΣU`` over all expressions;
    * ``prec@X``: the fraction of expressions with ``IoU >= X``, compared exactly (an IoU of
      exactly 1/2 counts for ``prec@0.5``).

    When the results hold more than one ``split`` (e.g. a ``ConcatDataset`` of val, testA and
    testB), the same values are also reported per split as ``'{split}_{name}'``
    (``'val_oIoU'``, ``'testA_prec@0.5'`` ...); the keys without a split prefix are computed
    over the union of all the expressions. ``'_'`` rather than ``'/'`` keeps each key a single
    name, e.g. for ``CheckpointHook(save_best='val_oIoU')``.

    The class has ``default_prefix = ''``: the keys are returned as they are (``'oIoU'``, not
    ``'ris/oIoU'``), as mmseg's ``IoUMetric`` does, so ``CheckpointHook(save_best='oIoU')``
    finds them; ``prefix='ris'`` gives ``'ris/oIoU'`` instead (then ``save_best='ris/oIoU'``).
    The returned values are python floats; the evaluation protocol is named in the title of the
    table that is logged.

    Multi-process evaluation: records are per sample and tiny, so mmengine's
    ``collect_results`` gathers them from every rank in dataset order and drops the duplicates
    that the sampler pads the last batch with (it truncates to ``size = len(dataset)``); the
    metric is therefore exact under any number of processes.

    Args:
        eval_resolution (str): ``'original'`` (default; the mmseg/mmdet/CRIS protocol):
            ``pred_sem_seg`` against ``gt_sem_seg``, both at the original image size.
            ``'resized'`` (the CARIS/LAVT/official AMLRIS protocol, 448x448 in the paper):
            ``pred_sem_seg_resized`` (at the network input size ``img_shape``) against the GT
            resized to ``img_shape`` with nearest-neighbour interpolation
            (``torch.nn.functional.interpolate(mode='nearest')``).
        prec_thresholds (Sequence[float]): The IoU thresholds X of ``prec@X``, in (0, 1].
            Defaults to ``(0.5, 0.6, 0.7, 0.8, 0.9)``.
        ignore_index (int): GT value of the pixels left out of both I and U. Defaults to 255.
        output_file (str, optional): If given, :meth:`compute_metrics` writes there a JSON list
            of per-expression records ``{ref_id, sent_id, split, iou, i, u}`` (``iou`` as a
            fraction in [0, 1]; :class:`GRESMetric` adds ``p`` and ``target``) for error
            analysis; parent directories are created.
            Defaults to None.
        collect_device (str): ``'cpu'`` or ``'gpu'``, where the results are gathered.
            Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to None (no prefix).
        collect_dir (str, optional): Temporary directory of the CPU collection.

    Raises:
        ValueError: If ``eval_resolution`` or a threshold is invalid.

    Examples:
        >>> val_evaluator = dict(type='RISMetric', eval_resolution='resized')
    """

    default_prefix: Optional[str] = ''

    def __init__(self,
                 eval_resolution: str = 'original',
                 prec_thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
                 ignore_index: int = 255,
                 output_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if eval_resolution not in _PROTOCOLS:
            raise ValueError(f"RISMetric: eval_resolution must be 'original' or 'resized', "
                             f'got {eval_resolution!r}.')
        for thr in prec_thresholds:
            if not isinstance(thr, (int, float)) or not 0 < thr <= 1:
                raise ValueError(f'RISMetric: prec_thresholds must be numbers in (0, 1], got '
                                 f'{thr!r} in {tuple(prec_thresholds)}.')
        self.eval_resolution = eval_resolution
        self.prec_thresholds = tuple(float(t) for t in prec_thresholds)
        self.ignore_index = ignore_index
        self.output_file = output_file

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Compute I and U of every expression of the batch.

        Args:
            data_batch (dict): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): The segmentor's outputs as dicts (``to_dict()`` of
                ``SegDataSample``): ``pred_sem_seg['data']`` ``[1, H, W]`` (non-zero =
                object) and ``gt_sem_seg['data']`` ``[1, H, W]`` (0/1, ``ignore_index``) at
                ``ori_shape``; ``pred_sem_seg_resized['data']`` ``[1, h, w]`` at
                ``img_shape`` for ``eval_resolution='resized'``; metainfo ``ref_id``,
                ``sent_id``, ``split``, ``img_shape``.
        """
        for sample in data_samples:
            pred, gt = self._pred_and_gt(sample)
            inter, union = intersect_and_union(pred, gt, self.ignore_index)
            self.results.append(
                dict(
                    i=inter,
                    u=union,
                    ref_id=sample.get('ref_id'),
                    sent_id=sample.get('sent_id'),
                    split=sample.get('split')))

    def _pred_and_gt(self, sample: dict) -> Tuple[Tensor, Tensor]:
        """The ``[H, W]`` prediction and GT compared under ``self.eval_resolution``."""
        ident = f'(ref_id={sample.get("ref_id")}, sent_id={sample.get("sent_id")})'
        if 'gt_sem_seg' not in sample:
            raise ValueError(f'RISMetric: data sample {ident} has no gt_sem_seg; the test '
                             'pipeline must load the referred mask (LoadReferringMask).')
        gt = _as_2d(sample['gt_sem_seg']['data'], 'gt_sem_seg', ident)
        if self.eval_resolution == 'original':
            if 'pred_sem_seg' not in sample:
                raise ValueError(f'RISMetric: data sample {ident} has no pred_sem_seg.')
            pred = _as_2d(sample['pred_sem_seg']['data'], 'pred_sem_seg', ident)
            if pred.shape != gt.shape:
                raise ValueError(
                    f"RISMetric(eval_resolution='original') compares pred_sem_seg and "
                    f'gt_sem_seg at the original image size, but sample {ident} has '
                    f'pred_sem_seg {tuple(pred.shape)} and gt_sem_seg {tuple(gt.shape)}. The '
                    'GT must stay at ori_shape (load it after Resize in the test pipeline) '
                    "and the prediction must be resized to ori_shape; or use "
                    "eval_resolution='resized' to compare at the network input size.")
            return pred, gt.to(pred.device)

        if 'pred_sem_seg_resized' not in sample:
            raise ValueError(
                f"RISMetric(eval_resolution='resized') needs pred_sem_seg_resized, the "
                f'prediction at the network input size (img_shape), but sample {ident} has '
                'none: the segmentor must produce it in predict() (AMLSegmentor does), or '
                "use eval_resolution='original'.")
        pred = _as_2d(sample['pred_sem_seg_resized']['data'], 'pred_sem_seg_resized', ident)
        img_shape = tuple(sample.get('img_shape', pred.shape))[:2]
        if tuple(pred.shape) != img_shape:
            raise ValueError(
                f"RISMetric(eval_resolution='resized'): sample {ident} has "
                f'pred_sem_seg_resized {tuple(pred.shape)} but img_shape {img_shape}; the '
                'prediction must be at the network input size, without padding.')
        return pred, resize_labels(gt, img_shape).to(pred.device)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Reduce the per-expression records to the metrics (in percent).

        Args:
            results (list[dict]): The records of all expressions (all ranks).

        Returns:
            dict[str, float]: ``mIoU``, ``oIoU``, ``prec@X`` over all expressions and, when
            there is more than one split, ``'{split}_mIoU'`` etc. for each one.
        """
        splits = list(OrderedDict.fromkeys(r['split'] for r in results))
        metrics = self._reduce(results)
        single_name = str(splits[0]) if len(splits) == 1 and splits[0] is not None else 'all'
        rows = [('all' if len(splits) > 1 else single_name, dict(metrics), len(results))]
        if len(splits) > 1:
            for split in splits:
                part = [r for r in results if r['split'] == split]
                split_metrics = self._reduce(part)
                rows.append((str(split), split_metrics, len(part)))
                metrics.update({f'{split}_{k}': v for k, v in split_metrics.items()})
        self._log_table(rows)
        if self.output_file:
            self._dump(results)
        return metrics

    def _reduce(self, results: List[dict]) -> Dict[str, float]:
        """mIoU, oIoU and prec@X of a list of records."""
        return ris_scores(results, self.prec_thresholds)

    @staticmethod
    def _iou(record: dict) -> float:
        """The IoU of one record, as the scores count it."""
        return record_iou(record)

    def _log_table(self, rows: List[Tuple[str, Dict[str, float], int]]) -> None:
        """Log one line per split under a title naming the protocol."""
        names = list(rows[0][1].keys())
        header = ['split', 'expressions'] + names
        lines = [[name, str(count)] + [f'{m[k]:.2f}' for k in names] for name, m, count in rows]
        title = f'{type(self).__name__}, eval_resolution={_PROTOCOLS[self.eval_resolution]}'
        try:
            from prettytable import PrettyTable
        except ImportError:
            widths = [max(len(h), *(len(line[j]) for line in lines))
                      for j, h in enumerate(header)]
            body = '\n'.join(' | '.join(c.rjust(w) for c, w in zip(line, widths))
                             for line in [header] + lines)
            text = f'{title}\n{body}'
        else:
            table = PrettyTable(header)
            for line in lines:
                table.add_row(line)
            text = f'{title}\n{table.get_string()}'
        print_log('\n' + text, logger='current')

    def _dump(self, results: List[dict]) -> None:
        """Write the per-expression records (every field, and the IoU the scores count) to
        ``self.output_file`` as JSON."""
        records = [dict(r, iou=self._iou(r), i=int(r['i']), u=int(r['u'])) for r in results]
        parent = osp.dirname(osp.abspath(self.output_file))
        os.makedirs(parent, exist_ok=True)
        with open(self.output_file, 'w', encoding='utf-8') as f:
            json.dump(records, f, default=int)  # numpy integers
        print_log(f'RISMetric: wrote {len(records)} per-expression IoUs to {self.output_file}',
                  logger='current')


def _as_2d(data: Tensor, field: str, ident: str) -> Tensor:
    """``[1, H, W]`` or ``[H, W]`` -> ``[H, W]``; anything else is a clear error."""
    if not isinstance(data, Tensor):
        raise TypeError(f'RISMetric: {field} of sample {ident} should be a tensor, got '
                        f'{type(data).__name__}.')
    if data.dim() == 3 and data.shape[0] == 1:
        return data[0]
    if data.dim() == 2:
        return data
    raise ValueError(f'RISMetric: {field} of sample {ident} should be [1, H, W] (one binary '
                     f'mask), got shape {tuple(data.shape)}.')
