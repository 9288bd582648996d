# Copyright (c) mmamlris contributors. All rights reserved.
"""demo/image_demo.py on a SynRef image, with a tiny model checkpoint."""
import copy
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmamlris.apis import RISInferencer
from mmamlris.registry import MODELS
from mmamlris.datasets import synref
from mmamlris.testing.tiny_configs import TINY_MODEL
from demo import image_demo as demo

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRED_RGB = np.array([255, 48, 48], np.float32)  # RISLocalVisualizer's default pred_color


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('image_demo')
    synref.generate_synref(str(root / 'synref'), num_images=3, img_size=64, seed=2)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'lite', 'lite_minilm_synref-160x160.py'))
    cfg.merge_from_dict(TINY_MODEL)
    config = str(root / 'tiny_lite.py')
    cfg.dump(config)
    torch.manual_seed(2)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    checkpoint = str(root / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    image = str(root / 'synref' / 'images' / 'synref_000001.jpg')
    return dict(config=config, checkpoint=checkpoint, image=image, root=root)


def test_demo_writes_the_overlay_with_the_expression(setup, capsys):
    out_file = str(setup['root'] / 'out.png')
    text = 'the red circle on the left'
    demo.main([setup['image'], text, setup['config'], setup['checkpoint'], '--out-file',
               out_file, '--device', 'cpu', '--opacity', '0.6'])
    assert 'Wrote' in capsys.readouterr().out
    image = cv2.imread(setup['image'])[..., ::-1]
    height, width = image.shape[:2]
    drawn = cv2.imread(out_file)[..., ::-1]
    # one panel at the image's size, the expression in a strip below it
    assert drawn.shape[1] == width and drawn.shape[0] > height
    assert (drawn[height:] < 128).any()
    mask = RISInferencer(setup['config'], setup['checkpoint'], device='cpu')(
        setup['image'], text)['mask']
    assert mask.any()  # the random tiny model predicts something to draw
    assert np.array_equal(drawn[:height][~mask], image[~mask])
    expected = np.round(0.4 * image.astype(np.float32) + 0.6 * PRED_RGB).astype(np.uint8)
    assert np.array_equal(drawn[:height][mask], expected[mask])


def test_demo_argument_errors(setup, capsys):
    args = [setup['image'], 'the dog', setup['config'], setup['checkpoint']]
    with pytest.raises(SystemExit):
        demo.main(args)  # neither --out-file nor --show
    assert 'nothing to do' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main(args + ['--out-file', 'x.png', '--opacity', '2'])
    assert 'opacity' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main(['missing.jpg'] + args[1:] + ['--out-file', 'x.png'])
    assert "image file 'missing.jpg' does not exist" in capsys.readouterr().err
