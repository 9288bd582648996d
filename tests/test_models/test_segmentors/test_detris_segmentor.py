# Copyright (c) mmamlris contributors. All rights reserved.
"""The toy DETRIS in AMLSegmentor: DETRIS's evaluation of letterboxed inputs, and AML on a ViT
(14-px cells, patch-aligned blocks, letterbox padding never masked, stage-1 sizes)."""
import copy
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmamlris.datasets.transforms import LetterBox, PackRISInputs, TokenizeCLIPExpression
from mmamlris.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TOY = osp.join(ROOT, 'configs', 'amlris', 'amlris_detris-toy_synref-112x112.py')


def build(**changes):
    cfg = Config.fromfile(TOY)
    cfg.merge_from_dict(changes)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def letterboxed_batch(shapes=((90, 150), (140, 70)), with_gt=True):
    rng = np.random.default_rng(0)
    tokenize = TokenizeCLIPExpression(max_tokens=17)
    inputs, samples = [], []
    for index, (height, width) in enumerate(shapes):
        gt = np.zeros((height, width), np.uint8)
        gt[height // 4:height // 2, width // 3:width // 2] = 1
        results = dict(img=rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                       img_path=f'{index}.jpg', ori_shape=(height, width),
                       text='the left red thing', ref_id=index, sent_id=index)
        if with_gt:
            results['gt_seg_map'] = gt
        packed = PackRISInputs()(tokenize(LetterBox(size=112)(results)))
        inputs.append(packed['inputs'])
        samples.append(packed['data_samples'])
    return dict(inputs=inputs, data_samples=samples)


def test_letterboxed_predictions_are_warped_back_as_detris_evaluates():
    model = build().eval()
    data = model.data_preprocessor(letterboxed_batch(with_gt=False), False)
    samples = data['data_samples']
    # the head's raw logits (4x its 8x8 grid), spread around the threshold
    torch.manual_seed(0)
    raw = F.interpolate(torch.randn(2, 1, 8, 8) * 3, size=(32, 32), mode='bilinear')
    metas = [s.metainfo for s in samples]
    out = model.postprocess_result(model.decode_head.predict_by_feat(raw, metas), samples)
    for index, sample in enumerate(out):
        height, width = sample.ori_shape
        # DETRIS's validate(): sigmoid, bicubic (align_corners) to the input, the inverse
        # affine (bicubic, 0 outside), > 0.35 at the original size
        probs = F.interpolate(raw[index:index + 1].sigmoid(), size=(112, 112), mode='bicubic',
                              align_corners=True)[0, 0].numpy()
        inverse = np.array(sample.letterbox_inverse)
        ref = cv2.warpAffine(probs, inverse, (width, height), flags=cv2.INTER_CUBIC,
                             borderValue=0.) > 0.35
        pred = sample.pred_sem_seg.data[0].numpy() > 0
        assert pred.shape == (height, width) and 0.2 < ref.mean() < 0.8
        assert (pred != ref).mean() <= 1e-3  # a pixel on the threshold may round apart
        assert 'pred_sem_seg_resized' not in sample  # the canvas is no resized image
    # the same through predict(): a letterboxed sample comes back at its original size
    with torch.no_grad():
        predicted = model.test_step(letterboxed_batch(with_gt=False))
    assert [tuple(s.pred_sem_seg.data.shape[-2:]) for s in predicted] == [(90, 150), (140, 70)]


def test_aml_never_masks_letterbox_padding_and_28px_blocks_hide_whole_patches():
    model = build(**{'model.aml.filter.tau': 2.0, 'model.aml.filter.rho': 1.0}).train()
    data = model.data_preprocessor(letterboxed_batch(((40, 200), (200, 40))), True)
    with torch.no_grad():
        out = model.mask_batch(data['inputs'], data['data_samples'])
    assert out.score_map.shape[-2:] == (8, 8)  # 112 / 14
    for mask, sample in zip(out.block_mask[:, 0], data['data_samples']):
        x0, y0, x1, y1 = sample.letterbox_box
        blocks = mask.reshape(4, 28, 4, 28).any(3).any(1)  # [4, 4] masked blocks
        # every block touching the image is weak (tau 2) and masked (rho 1); the others not
        rows = torch.arange(4) * 28
        touches_y = (rows + 28 > y0) & (rows < y1)
        touches_x = (rows + 28 > x0) & (rows < x1)
        assert torch.equal(blocks, touches_y[:, None] & touches_x[None, :])
        assert not blocks.all()  # the letterbox border of these images spans whole blocks
        patches = mask.reshape(8, 14, 8, 14).permute(0, 2, 1, 3).reshape(64, -1)
        assert (patches.all(1) | ~patches.any(1)).all()  # each patch wholly masked or not


def test_a_stage1_scale_that_cuts_patches_is_refused():
    data = letterboxed_batch()
    model = build(**{'model.stage1_scale': 0.5}).train()
    log = model.loss(**model.data_preprocessor(copy.deepcopy(data), True))
    assert torch.isfinite(log['decode.loss_bce'])  # 56 px: 4 whole patches
    model = build(**{'model.stage1_scale': 0.6}).train()
    with pytest.raises(ValueError, match='not multiples of the backbone\'s 14-pixel patches'):
        model.loss(**model.data_preprocessor(copy.deepcopy(data), True))


def test_only_the_adapters_and_the_head_train_when_the_towers_are_frozen():
    model = build(**{'model.backbone.freeze': True, 'model.text_encoder.freeze': True})
    trained = {n.split('.')[0] + '.' + n.split('.')[1]
               for n, p in model.named_parameters() if p.requires_grad}
    assert trained == {'backbone.aligners', 'text_encoder.adapters', 'decode_head.neck',
                       'decode_head.decoder', 'decode_head.projector'}
