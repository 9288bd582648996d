# Copyright (c) mmamlris contributors. All rights reserved.
import copy
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmamlris.apis import RISInferencer
from mmamlris.registry import DATASETS, MODELS
from mmamlris.testing.tiny_configs import TINY_MODEL, make_tiny_synref

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'lite', 'lite_minilm_synref-160x160.py')


def tiny_config(data_root: str) -> Config:
    """The lead's light SynRef config with a tiny backbone, text encoder and head."""
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(TINY_MODEL)
    for dataset in cfg.test_dataloader.dataset.datasets:
        dataset.data_root = data_root
    return cfg


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A tiny SynRef (images of different sizes), its config and a checkpoint."""
    root = tmp_path_factory.mktemp('inferencer')
    data_root = make_tiny_synref(str(root / 'synref'), num_images=6, seed=1)
    cfg = tiny_config(data_root)
    torch.manual_seed(1)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    checkpoint = str(root / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=('background', 'object')))),
               checkpoint)
    inferencer = RISInferencer(cfg, checkpoint, device='cpu')
    images = sorted(osp.join(data_root, 'images', f) for f in
                    ('synref_000001.jpg', 'synref_000002.jpg', 'synref_000003.jpg'))
    return dict(cfg=cfg, model=model.eval(), checkpoint=checkpoint, inferencer=inferencer,
                images=images, data_root=data_root)


def test_checkpoint_is_loaded_and_device_chosen(setup):
    inferencer = setup['inferencer']
    expected = setup['model'].state_dict()
    for key, value in inferencer.model.state_dict().items():
        assert torch.equal(value.cpu(), expected[key]), key
    assert not inferencer.model.training
    assert inferencer.model.dataset_meta['classes'] == ('background', 'object')
    default = RISInferencer(setup['cfg'])
    assert default.device.type == ('cuda' if torch.cuda.is_available() else 'cpu')


def test_one_pair(setup):
    image = setup['images'][0]
    height, width = cv2.imread(image).shape[:2]
    out = setup['inferencer'](image, 'the red circle', return_probs=True)
    assert set(out) == {'mask', 'probs'}
    assert out['mask'].dtype == np.bool_ and out['mask'].shape == (height, width)
    assert out['probs'].dtype == np.float32 and out['probs'].shape == (height, width)
    assert 0.0 <= out['probs'].min() and out['probs'].max() <= 1.0
    # the two-class mask is the argmax, i.e. the object probability above one half
    assert np.array_equal(out['mask'], out['probs'] > 0.5)
    assert set(setup['inferencer'](image, 'the red circle')) == {'mask'}


def test_same_prediction_as_the_test_dataset_path(setup):
    """The inferencer's pipeline gives what the config's own test pipeline + model give."""
    dataset_cfg = copy.deepcopy(setup['cfg'].test_dataloader.dataset.datasets[0])
    dataset = DATASETS.build(dataset_cfg)
    item = dataset[0]
    meta = item['data_samples'].metainfo
    with torch.no_grad():
        expected = setup['model'].test_step(pseudo_collate([item]))[0]
    out = setup['inferencer'](meta['img_path'], meta['text'], return_probs=True)
    assert np.array_equal(out['mask'], expected.pred_sem_seg.data[0].numpy() == 1)
    probs = expected.seg_logits.data.softmax(dim=0)[1].numpy()
    np.testing.assert_allclose(out['probs'], probs, atol=1e-5)


def test_several_pairs_and_batches(setup):
    inferencer = setup['inferencer']
    images = setup['images']
    texts = ['the red circle', 'the blue square on the left', 'the big triangle']
    shapes = [cv2.imread(p).shape[:2] for p in images]
    assert len(set(shapes)) > 1  # SynRef jitters the aspect ratio
    one_by_one = inferencer(images, texts, return_probs=True)
    batched = inferencer(images, texts, return_probs=True, batch_size=2)
    assert isinstance(one_by_one, list) and len(one_by_one) == len(batched) == 3
    for a, b, shape in zip(one_by_one, batched, shapes):
        assert a['mask'].shape == b['mask'].shape == shape
        np.testing.assert_allclose(a['probs'], b['probs'], atol=1e-5)
    # one image, several expressions
    several = inferencer(images[0], texts[:2])
    assert len(several) == 2 and all(o['mask'].shape == shapes[0] for o in several)
    assert len(inferencer([images[1]], [texts[1]])) == 1


def test_array_inputs_match_file_inputs(setup):
    inferencer = setup['inferencer']
    path = setup['images'][1]
    bgr = cv2.imread(path)
    from_file = inferencer(path, 'the green star', return_probs=True)
    from_bgr = inferencer(bgr, 'the green star', return_probs=True)
    from_rgb = inferencer(np.ascontiguousarray(bgr[..., ::-1]), 'the green star',
                          return_probs=True, channel_order='rgb')
    for out in (from_bgr, from_rgb):
        np.testing.assert_allclose(out['probs'], from_file['probs'], atol=1e-5)
    gray = inferencer(bgr[..., 0], 'the green star')
    assert gray['mask'].shape == bgr.shape[:2]
    rgba = np.concatenate([bgr, np.full(bgr.shape[:2] + (1, ), 255, np.uint8)], axis=2)
    np.testing.assert_allclose(
        inferencer(rgba, 'the green star', return_probs=True)['probs'], from_file['probs'],
        atol=1e-5)


def test_bad_inputs(setup, tmp_path):
    inferencer = setup['inferencer']
    image = setup['images'][0]
    with pytest.raises(ValueError, match='2 images but 3 expressions'):
        inferencer([image, image], ['a', 'b', 'c'])
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inferencer(str(tmp_path / 'missing.jpg'), 'the dog')
    with pytest.raises(ValueError, match='uint8'):
        inferencer(np.zeros((8, 8, 3), np.float32), 'the dog')
    with pytest.raises(ValueError, match='empty'):
        inferencer(image, '  ')
    with pytest.raises(TypeError, match='text'):
        inferencer(image, 3)
    with pytest.raises(ValueError, match='batch_size'):
        inferencer(image, 'the dog', batch_size=0)
    with pytest.raises(ValueError, match='channel_order'):
        inferencer(image, 'the dog', channel_order='bgra')
    with pytest.raises(FileNotFoundError, match='nope.py'):
        RISInferencer(str(tmp_path / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        RISInferencer(setup['cfg'], str(tmp_path / 'nope.pth'))
    with pytest.raises(TypeError, match='config path'):
        RISInferencer(dict(model=dict()))


def test_config_path_and_wrapped_test_dataset(setup, tmp_path):
    """A config file whose test set is a plain dataset (no ConcatDataset) works too."""
    cfg = copy.deepcopy(setup['cfg'])
    cfg.test_dataloader.dataset = cfg.test_dataloader.dataset.datasets[0]
    path = str(tmp_path / 'plain_test_set.py')
    cfg.dump(path)
    out = RISInferencer(path, setup['checkpoint'], device='cpu')(setup['images'][2], 'the dog')
    assert out['mask'].shape == cv2.imread(setup['images'][2]).shape[:2]
