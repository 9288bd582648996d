# Copyright (c) mmamlris contributors. All rights reserved.
import glob
import os.path as osp
from unittest.mock import MagicMock

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.structures import SegDataSample

from mmamlris.registry import VISUALIZERS
from mmamlris.evaluation import mask_iou
from mmamlris.visualization import Panel, RISLocalVisualizer

H, W = 48, 64
RED, GREEN = (255, 48, 48), (48, 220, 48)


def make_visualizer(request, tmp_path, **kwargs):
    """A visualizer with a LocalVisBackend writing under ``tmp_path`` (unique name)."""
    return RISLocalVisualizer.get_instance(
        f'vis_{request.node.name}', vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path), **kwargs)


def box_mask(top, bottom, left, right, shape=(H, W)):
    mask = torch.zeros((1, ) + shape, dtype=torch.long)
    mask[:, top:bottom, left:right] = 1
    return mask


def make_sample(pred=True, gt=True, **meta):
    sample = SegDataSample()
    if pred:
        sample.pred_sem_seg = PixelData(data=box_mask(5, 25, 10, 30))
    if gt:
        sample.gt_sem_seg = PixelData(data=box_mask(15, 35, 10, 30))
    sample.set_metainfo(dict(text='the red circle on the left', sent_id=7, ref_id=3, **meta))
    return sample


def random_image(shape=(H, W), seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape + (3, ), dtype=np.uint8)


def blended(image, color, alpha):
    out = (1 - alpha) * image.astype(np.float32) + alpha * np.asarray(color, np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def read_rgb(path):
    return cv2.imread(path)[..., ::-1]


def test_mask_iou_counts_like_the_metric():
    pred = box_mask(0, 10, 0, 10)[0]
    gt = box_mask(5, 15, 0, 10)[0]
    # intersection 5 x 10 = 50, union 15 x 10 = 150
    assert mask_iou(pred, gt) == pytest.approx(1 / 3)
    # ignored GT pixels count neither in the intersection nor in the union
    gt_ignore = gt.clone()
    gt_ignore[0:5, :] = 255
    assert mask_iou(pred, gt_ignore) == pytest.approx(50 / 100)
    assert mask_iou(np.zeros((4, 4)), np.zeros((4, 4))) == 0.0  # empty union: 0 (RISMetric)
    with pytest.raises(ValueError, match='prediction'):
        mask_iou(np.zeros((4, 4)), np.zeros((5, 4)))


def test_built_from_registry_with_ris_classes(request):
    vis = VISUALIZERS.build(dict(type='RISLocalVisualizer', name=f'reg_{request.node.name}'))
    assert isinstance(vis, RISLocalVisualizer)
    assert vis.dataset_meta['classes'] == ['background', 'object']
    with pytest.raises(ValueError, match='alpha'):
        RISLocalVisualizer(name=f'bad_{request.node.name}', alpha=1.5)


def test_add_datasample_panels_and_out_file(request, tmp_path):
    vis = make_visualizer(request, tmp_path, alpha=0.5)
    image = random_image()
    out_file = str(tmp_path / 'out.png')
    drawn = vis.add_datasample('img.jpg', image, make_sample(), out_file=out_file)
    written = read_rgb(out_file)
    assert np.array_equal(written, drawn)
    # three panels (image + expression, prediction, GT) side by side, captions below
    assert written.shape[1] == 3 * W
    assert written.shape[0] > H
    image_panel, pred_panel, gt_panel = (written[:H, i * W:(i + 1) * W] for i in range(3))
    assert np.array_equal(image_panel, image)
    pred = box_mask(5, 25, 10, 30)[0].numpy().astype(bool)
    gt = box_mask(15, 35, 10, 30)[0].numpy().astype(bool)
    assert np.array_equal(pred_panel[~pred], image[~pred])
    assert np.array_equal(pred_panel[pred], blended(image, RED, 0.5)[pred])
    assert np.array_equal(gt_panel[~gt], image[~gt])
    assert np.array_equal(gt_panel[gt], blended(image, GREEN, 0.5)[gt])
    # every caption strip holds some text (dark pixels on white)
    for i in range(3):
        assert (written[H:, i * W:(i + 1) * W] < 128).any()
    # nothing went to the backends when out_file is given
    assert not glob.glob(str(tmp_path / 'vis_data' / 'vis_image' / '*.png'))


def test_add_datasample_without_gt_or_pred(request, tmp_path):
    vis = make_visualizer(request, tmp_path)
    image = random_image()
    assert vis.add_datasample('a', image, make_sample(gt=False)).shape[1] == 2 * W
    assert vis.add_datasample('b', image, make_sample(), draw_gt=False).shape[1] == 2 * W
    assert vis.add_datasample('c', image, make_sample(pred=False)).shape[1] == 2 * W
    assert vis.add_datasample('d', image, None).shape[1] == W


def test_masks_drawn_at_the_image_size(request, tmp_path):
    """A prediction at another size than the image is resized (nearest) for drawing."""
    vis = make_visualizer(request, tmp_path)
    image = random_image((2 * H, 2 * W))
    drawn = vis.add_datasample('big', image, make_sample())
    assert drawn.shape[1] == 3 * 2 * W
    pred_panel = drawn[:2 * H, 2 * W:4 * W]
    pred = cv2.resize(box_mask(5, 25, 10, 30)[0].numpy().astype(np.uint8), (2 * W, 2 * H),
                      interpolation=cv2.INTER_NEAREST).astype(bool)
    assert np.array_equal(pred_panel[~pred], image[~pred])
    assert not np.array_equal(pred_panel[pred], image[pred])


def test_show_dir_hook_writes_one_file_per_expression(request, tmp_path):
    """What ``tools/test.py --show-dir`` does: mmseg's hook, two expressions of one image."""
    vis = make_visualizer(request, tmp_path)
    image = random_image((40, 56), seed=1)
    img_path = str(tmp_path / 'img_001.png')
    cv2.imwrite(img_path, image[..., ::-1])
    samples = []
    for sent_id in (11, 12):
        sample = make_sample(img_path=img_path)
        sample.set_metainfo(dict(sent_id=sent_id))
        for key in ('pred_sem_seg', 'gt_sem_seg'):
            data = sample.get(key).data[:, :40, :56]
            sample.set_data({key: PixelData(data=data)})
        samples.append(sample)
    hook = SegVisualizationHook(draw=True, interval=1)
    assert hook._visualizer is vis
    hook.after_test_iter(MagicMock(iter=0), 0, dict(), samples)
    files = sorted(glob.glob(str(tmp_path / 'vis_data' / 'vis_image' / '*.png')))
    assert [osp.basename(f) for f in files] == ['test_img_001_sent11_0.png',
                                                'test_img_001_sent12_0.png']
    for path in files:
        drawn = read_rgb(path)
        assert drawn.shape[1] == 3 * 56 and drawn.shape[0] > 40
        assert np.array_equal(drawn[:40, :56], image)


def test_long_expressions_wrap_into_a_taller_caption(request, tmp_path):
    vis = make_visualizer(request, tmp_path)
    image = random_image()
    short = vis.draw_panels([Panel(image, 'the dog')])
    long_text = 'the small red circle to the left of the large blue square near the top ' * 2
    tall = vis.draw_panels([Panel(image, long_text), Panel(image, 'x')])
    assert short.shape[1] == W and tall.shape[1] == 2 * W
    assert tall.shape[0] > short.shape[0] > H
    # a word longer than the panel is cut rather than drawn past the edge: the caption of
    # 200 letters takes more lines than one that fits, and no more than it needs
    _, chars, line_h = vis._font(W)
    one = vis.draw_panels([Panel(image, 'x' * chars)])
    cut = vis.draw_panels([Panel(image, 'x' * 200)])
    assert cut.shape[0] - one.shape[0] == (-(-200 // chars) - 1) * line_h
    # the text stays inside its strip: the last column of the caption is blank
    assert (cut[H:, -1] == 255).all()


def test_draw_panels_rejects_bad_panels(request, tmp_path):
    vis = make_visualizer(request, tmp_path)
    with pytest.raises(ValueError, match='one size'):
        vis.draw_panels([Panel(random_image(), 'a'), Panel(random_image((H, W + 1)), 'b')])
    with pytest.raises(ValueError, match='RGB uint8'):
        vis.draw_panels([Panel(np.zeros((H, W, 3), np.float32), 'a')])
    with pytest.raises(ValueError, match='at least one'):
        vis.draw_panels([])


def test_draw_ris_result(request, tmp_path):
    vis = make_visualizer(request, tmp_path)
    image = random_image()
    mask = box_mask(5, 25, 10, 30)[0].numpy().astype(bool)
    drawn = vis.draw_ris_result(image, 'the dog', mask, alpha=0.8)
    assert drawn.shape[1] == W and drawn.shape[0] > H
    assert np.array_equal(drawn[:H][~mask], image[~mask])
    assert np.array_equal(drawn[:H][mask], blended(image, RED, 0.8)[mask])


def aml_inputs(seed=0):
    rng = np.random.default_rng(seed)
    image = random_image(seed=seed)
    score = torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])  # low on the left, high on the right
    weak = np.zeros((H, W), bool)
    weak[:, :W // 2] = True
    block = np.zeros((H, W), bool)
    block[:16, :16] = True
    masked = image.copy()
    masked[block] = (124, 116, 104)
    pred = torch.from_numpy(rng.random((H, W)) > 0.5).long()
    gt = box_mask(15, 35, 10, 30)[0]
    return dict(image=image, text='the blue square', score_map=score, weak_mask=weak,
                block_mask=block, masked_image=masked, pred_mask=pred, gt_mask=gt)


def test_add_aml_panels_to_backend(request, tmp_path):
    vis = make_visualizer(request, tmp_path, alpha=0.5)
    inputs = aml_inputs()
    drawn = vis.add_aml_panels('aml_sample0', **inputs, step=250)
    path = tmp_path / 'vis_data' / 'vis_image' / 'aml_sample0_250.png'
    written = read_rgb(str(path))
    assert np.array_equal(written, drawn)
    # input, heat map, weak set, block mask, masked image, prediction, GT
    assert written.shape[1] == 7 * W and written.shape[0] > H
    panels = [written[:H, i * W:(i + 1) * W] for i in range(7)]
    image = inputs['image']
    assert np.array_equal(panels[0], image)
    heat = panels[1].astype(int)
    # JET: low scores blue, high scores red; the right half scores 1, the left half 0
    assert heat[:, -8:, 0].mean() > heat[:, :8, 0].mean() + 50
    assert heat[:, :8, 2].mean() > heat[:, -8:, 2].mean() + 50
    weak, block = inputs['weak_mask'], inputs['block_mask']
    assert np.array_equal(panels[2][~weak], image[~weak])
    assert not np.array_equal(panels[2][weak], image[weak])
    assert np.array_equal(panels[3][~block], image[~block])
    assert np.array_equal(panels[3][block], blended(image, (200, 0, 200), 0.5)[block])
    assert np.array_equal(panels[4], inputs['masked_image'])
    pred = inputs['pred_mask'].numpy() == 1
    assert np.array_equal(panels[5][~pred], image[~pred])
    gt = inputs['gt_mask'].numpy() == 1
    assert np.array_equal(panels[6][gt], blended(image, GREEN, 0.5)[gt])


def test_add_aml_panels_optional_panels_and_out_file(request, tmp_path):
    vis = make_visualizer(request, tmp_path)
    inputs = aml_inputs()
    inputs.pop('pred_mask')
    six = vis.add_aml_panels('a', **inputs)
    assert six.shape[1] == 6 * W
    inputs.pop('gt_mask')
    out_file = str(tmp_path / 'five.png')
    five = vis.add_aml_panels('b', **inputs, out_file=out_file)
    assert read_rgb(out_file).shape == five.shape
    assert five.shape[1] == 5 * W
    # masks given at another size are resized to the image
    inputs['weak_mask'] = torch.ones(1, H // 2, W // 2, dtype=torch.bool)
    full = vis.add_aml_panels('c', **inputs)
    assert not np.array_equal(full[:H, 2 * W:3 * W], inputs['image'])


def test_add_aml_panels_writes_the_alignment_into_the_captions(request, tmp_path):
    vis = make_visualizer(request, tmp_path)
    inputs = aml_inputs()
    plain = vis.add_aml_panels('p', **inputs)
    stats = vis.add_aml_panels('s', **inputs, alignment=dict(
        target_auc=0.93, object_masked=0.0, context_masked=0.24))
    undefined = vis.add_aml_panels('u', **inputs, alignment=dict(
        target_auc=None, object_masked=None, context_masked=None))
    assert np.array_equal(plain, undefined)  # undefined values write nothing
    assert np.array_equal(plain[:H], stats[:H])  # the images are the same, only the captions
    assert stats.shape[0] >= plain.shape[0] and not np.array_equal(plain, stats[:len(plain)])
