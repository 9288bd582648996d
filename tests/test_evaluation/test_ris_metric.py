# Copyright (c) mmamlris contributors. All rights reserved.
"""RISMetric against values computed by hand on hand-made masks."""
import json

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmamlris.evaluation import RISMetric
from mmamlris.registry import METRICS


def _t(rows):
    """A ``[1, H, W]`` int64 tensor from nested lists."""
    return torch.tensor(rows, dtype=torch.long)[None]


def _sample(pred, gt, ref_id=0, sent_id=0, split='val', pred_resized=None, img_shape=None):
    """A data sample as a dict, like ``Evaluator.process`` hands it to the metric."""
    gt = _t(gt)
    sample = dict(
        pred_sem_seg=dict(data=_t(pred)), gt_sem_seg=dict(data=gt), ref_id=ref_id,
        sent_id=sent_id, split=split, ori_shape=tuple(gt.shape[1:]),
        img_shape=img_shape if img_shape is not None else tuple(gt.shape[1:]))
    if pred_resized is not None:
        sample['pred_sem_seg_resized'] = dict(data=_t(pred_resized))
    return sample


def _pair_with(i, u):
    """1 x u masks with I = i and U = u: the GT is all object, the prediction its first i."""
    return [[1] * i + [0] * (u - i)], [[1] * u]


def _run(metric, samples):
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_miou_differs_from_oiou_and_empty_union_counts_zero():
    samples = [
        # I = 4, U = 4 -> IoU 1
        _sample(pred=[[1, 1, 0, 0], [1, 1, 0, 0]], gt=[[1, 1, 0, 0], [1, 1, 0, 0]]),
        # GT 8 pixels, prediction 2 of them: I = 2, U = 8 -> IoU 0.25
        _sample(pred=[[1, 1, 0, 0], [0, 0, 0, 0]], gt=[[1, 1, 1, 1], [1, 1, 1, 1]],
                sent_id=1),
        # empty prediction and empty GT: I = U = 0 -> IoU 0 (not NaN, not skipped)
        _sample(pred=[[0, 0], [0, 0]], gt=[[0, 0], [0, 0]], sent_id=2),
    ]
    out = _run(RISMetric(), samples)
    assert out['mIoU'] == pytest.approx(100 * (1 + 0.25 + 0) / 3)
    assert out['oIoU'] == pytest.approx(100 * 6 / 12)
    assert out['prec@0.5'] == pytest.approx(100 / 3)
    assert all(type(v) is float for v in out.values())
    assert set(out) == {'mIoU', 'oIoU', 'prec@0.5', 'prec@0.6', 'prec@0.7', 'prec@0.8',
                        'prec@0.9'}


def test_records_are_tiny_python_ints():
    metric = RISMetric()
    metric.process({}, [_sample(pred=[[1, 0, 1]], gt=[[1, 1, 0]], ref_id=7, sent_id=9,
                                split='testB')])
    assert metric.results == [dict(i=1, u=3, ref_id=7, sent_id=9, split='testB')]
    assert type(metric.results[0]['i']) is int and type(metric.results[0]['u']) is int


def test_ignore_pixels_leave_both_intersection_and_union():
    # Valid pixels: 0, 1, 3. Prediction {0, 2, 3} -> {0, 3}; GT {0, 1}. I = 1, U = 3.
    metric = RISMetric()
    out = _run(metric, [_sample(pred=[[1, 0, 1, 1]], gt=[[1, 1, 255, 0]])])
    assert (metric.results[0]['i'], metric.results[0]['u']) == (1, 3)
    assert out['mIoU'] == pytest.approx(100 / 3)
    # A sample whose pixels are all ignored has U = 0: IoU 0.
    metric = RISMetric()
    _run(metric, [_sample(pred=[[1, 1]], gt=[[255, 255]])])
    assert (metric.results[0]['i'], metric.results[0]['u']) == (0, 0)


def test_prec_thresholds_are_inclusive_and_exact():
    # IoUs exactly 1/2, 3/5, 7/10, 4/5, 9/10, and 699/1000, 49/100 just below thresholds.
    pairs = [(1, 2), (3, 5), (7, 10), (4, 5), (9, 10), (699, 1000), (49, 100)]
    samples = [_sample(*_pair_with(i, u), sent_id=k) for k, (i, u) in enumerate(pairs)]
    out = _run(RISMetric(), samples)
    n = len(pairs)
    # >= 0.5: 1/2, 3/5, 7/10, 4/5, 9/10, 699/1000 -> 6
    assert out['prec@0.5'] == pytest.approx(100 * 6 / n)
    # >= 0.6: 3/5, 7/10, 4/5, 9/10, 699/1000 -> 5
    assert out['prec@0.6'] == pytest.approx(100 * 5 / n)
    # >= 0.7: 7/10, 4/5, 9/10 -> 3 (699/1000 is below)
    assert out['prec@0.7'] == pytest.approx(100 * 3 / n)
    assert out['prec@0.8'] == pytest.approx(100 * 2 / n)
    assert out['prec@0.9'] == pytest.approx(100 * 1 / n)
    iou_sum = 0.5 + 0.6 + 0.7 + 0.8 + 0.9 + 0.699 + 0.49
    assert out['mIoU'] == pytest.approx(100 * iou_sum / n)
    assert out['oIoU'] == pytest.approx(100 * (1 + 3 + 7 + 4 + 9 + 699 + 49) /
                                        (2 + 5 + 10 + 5 + 10 + 1000 + 100))


def test_custom_thresholds_name_the_keys():
    out = _run(RISMetric(prec_thresholds=(0.25, 1.0)), [_sample(*_pair_with(1, 4))])
    assert out['prec@0.25'] == 100.0 and out['prec@1'] == 0.0


def test_resized_protocol_uses_nearest_resized_gt():
    # torch 'nearest' from 4x4 to 2x2 takes source rows/cols floor(j * 4 / 2) = 0, 2, so the
    # resized GT is [[gt[0,0], gt[0,2]], [gt[2,0], gt[2,2]]] = [[1, 0], [1, 255]]; the other
    # pixels hold the opposite values so that any other resampling would change the result.
    gt = [[1, 0, 0, 1],
          [0, 1, 1, 0],
          [1, 0, 255, 1],
          [0, 1, 1, 0]]
    pred_resized = [[1, 1],
                    [0, 0]]
    # Valid: 3 pixels; prediction {(0,0), (0,1)}, GT {(0,0), (1,0)}: I = 1, U = 3.
    sample = _sample(pred=[[0] * 4] * 4, gt=gt, pred_resized=pred_resized, img_shape=(2, 2))
    metric = RISMetric(eval_resolution='resized')
    out = _run(metric, [sample])
    assert (metric.results[0]['i'], metric.results[0]['u']) == (1, 3)
    assert out['oIoU'] == pytest.approx(100 / 3)
    # The same sample under the 'original' protocol uses the all-zero full-size prediction:
    # GT has 8 object pixels (two per row), I = 0.
    metric = RISMetric(eval_resolution='original')
    _run(metric, [sample])
    assert (metric.results[0]['i'], metric.results[0]['u']) == (0, 8)


def test_resized_protocol_without_resize_keeps_gt():
    sample = _sample(pred=[[0, 0]], gt=[[1, 255]], pred_resized=[[1, 1]], img_shape=(1, 2))
    metric = RISMetric(eval_resolution='resized')
    _run(metric, [sample])
    assert (metric.results[0]['i'], metric.results[0]['u']) == (1, 1)


def test_per_split_keys_and_union():
    samples = [
        _sample(*_pair_with(1, 2), split='val'),              # IoU 0.5
        _sample(*_pair_with(1, 1), split='val', sent_id=1),   # IoU 1
        _sample(*_pair_with(1, 4), split='testA', sent_id=2),  # IoU 0.25
    ]
    out = _run(RISMetric(), samples)
    assert out['val_mIoU'] == pytest.approx(75.0)
    assert out['val_oIoU'] == pytest.approx(100 * 2 / 3)
    assert out['val_prec@0.5'] == pytest.approx(100.0)
    assert out['testA_mIoU'] == pytest.approx(25.0)
    assert out['testA_prec@0.5'] == pytest.approx(0.0)
    # overall keys are over the union of the splits
    assert out['mIoU'] == pytest.approx(100 * 1.75 / 3)
    assert out['oIoU'] == pytest.approx(100 * 3 / 7)
    assert not any(k.startswith('testB') for k in out)


def test_single_split_has_no_split_keys():
    out = _run(RISMetric(), [_sample(*_pair_with(1, 2), split='val')])
    assert 'val_mIoU' not in out and 'mIoU' in out


def test_output_file(tmp_path):
    path = tmp_path / 'nested' / 'dir' / 'per_expression.json'
    samples = [
        _sample(*_pair_with(1, 4), ref_id=3, sent_id=10, split='val'),
        _sample(pred=[[0]], gt=[[0]], ref_id=5, sent_id=11, split='testB'),
    ]
    _run(RISMetric(output_file=str(path)), samples)
    records = json.loads(path.read_text())
    assert records == [
        dict(ref_id=3, sent_id=10, split='val', iou=0.25, i=1, u=4),
        dict(ref_id=5, sent_id=11, split='testB', iou=0.0, i=0, u=0),
    ]


def test_shape_mismatch_names_the_protocol():
    sample = _sample(pred=[[1, 0], [0, 1]], gt=[[1, 0, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match="eval_resolution='original'"):
        RISMetric().process({}, [sample])


def test_resized_protocol_needs_resized_prediction():
    sample = _sample(pred=[[1, 0]], gt=[[1, 0]])
    with pytest.raises(ValueError, match='pred_sem_seg_resized'):
        RISMetric(eval_resolution='resized').process({}, [sample])
    sample = _sample(pred=[[1, 0]], gt=[[1, 0]], pred_resized=[[1, 0, 0]], img_shape=(1, 2))
    with pytest.raises(ValueError, match='img_shape'):
        RISMetric(eval_resolution='resized').process({}, [sample])


def test_bad_arguments():
    with pytest.raises(ValueError, match='eval_resolution'):
        RISMetric(eval_resolution='448')
    with pytest.raises(ValueError, match='prec_thresholds'):
        RISMetric(prec_thresholds=(0.5, 1.5))


def test_protocol_is_logged(monkeypatch):
    from mmamlris.evaluation.metrics import ris_metric
    logged = []
    monkeypatch.setattr(ris_metric, 'print_log', lambda msg, **kwargs: logged.append(msg))
    for resolution, words in (('resized', 'resized (CARIS/LAVT protocol'),
                              ('original', 'original (mmseg/mmdet/CRIS protocol')):
        logged.clear()
        metric = RISMetric(eval_resolution=resolution)
        _run(metric, [_sample(pred=[[1]], gt=[[1]], pred_resized=[[1]], img_shape=(1, 1))])
        assert len(logged) == 1
        assert f'eval_resolution={words}' in logged[0]
        assert 'mIoU' in logged[0] and '100.00' in logged[0]


def _seg_data_sample(pred, gt, ref_id, sent_id, split):
    sample = SegDataSample(metainfo=dict(ref_id=ref_id, sent_id=sent_id, split=split,
                                         ori_shape=(1, len(gt[0])),
                                         img_shape=(1, len(gt[0]))))
    sample.gt_sem_seg = PixelData(data=_t(gt))
    sample.pred_sem_seg = PixelData(data=_t(pred))
    return sample


def test_evaluator_integration_drops_padded_duplicates():
    assert METRICS.get('RISMetric') is RISMetric
    evaluator = Evaluator(metrics=dict(type='RISMetric'))
    batch1 = [_seg_data_sample(*_pair_with(1, 2), 0, 0, 'val'),
              _seg_data_sample(*_pair_with(1, 1), 1, 1, 'val')]
    # The last batch is padded by the sampler with a duplicate of the first sample.
    batch2 = [_seg_data_sample(*_pair_with(1, 4), 2, 2, 'val'),
              _seg_data_sample(*_pair_with(1, 2), 0, 0, 'val')]
    evaluator.process(batch1)
    evaluator.process(batch2)
    out = evaluator.evaluate(size=3)
    # keys are unprefixed so that CheckpointHook(save_best='oIoU') finds them
    assert out['mIoU'] == pytest.approx(100 * (0.5 + 1 + 0.25) / 3)
    assert out['oIoU'] == pytest.approx(100 * 3 / 7)


def test_prefix_is_applied_when_given():
    evaluator = Evaluator(metrics=dict(type='RISMetric', prefix='ris'))
    evaluator.process([_seg_data_sample(*_pair_with(1, 2), 0, 0, 'val')])
    out = evaluator.evaluate(size=1)
    assert out['ris/oIoU'] == pytest.approx(50.0)
