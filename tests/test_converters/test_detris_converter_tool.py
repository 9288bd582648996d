# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/model_converters/detris2mmamlris.py: released checkpoints and the public start weights
(OpenAI's CLIP, Meta's DINOv2 with registers), on the tiny official DETRIS of
test_detris_whole_model.py."""
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from mmamlris.converters import convert_detris_pretrained, load_public_tower
from mmamlris.registry import MODELS
from mmamlris.utils import InputValueError
from mmamlris.testing.tiny_configs import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools', 'model_converters', 'detris2mmamlris.py')


@pytest.fixture
def state(detris_official):
    return detris_official['state']


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          cwd=REPO_ROOT)


def test_a_released_checkpoint_converts_and_loads_strictly(state, detris_tiny_model_cfg,
                                                           tmp_path, capsys):
    src = tmp_path / 'detris.pth'
    torch.save(dict(state_dict={f'module.{k}': v for k, v in state.items()}, epoch=3), src)
    _tool_module().main([str(src), str(tmp_path / 'out.pth')])
    printed = capsys.readouterr().out
    assert 'dropped txt_backbone.logit_scale' in printed
    # only what differs from DETRIS-B is printed: the tiny widths, not e.g. the text width 512
    assert 'model.backbone.dinov2.hidden_size=48' in printed
    assert 'model.backbone.adapter_layers=[1,3]' in printed
    assert 'model.text_encoder.clip.hidden_size' not in printed
    ckpt = torch.load(tmp_path / 'out.pth', weights_only=True)
    MODELS.build(detris_tiny_model_cfg).load_state_dict(ckpt['state_dict'], strict=True)


def test_the_public_towers_convert_to_start_weights(state, detris_tiny_model_cfg, tmp_path):
    clip = {k[len('txt_backbone.'):]: v for k, v in state.items()
            if k.startswith('txt_backbone.') and '.adapter.' not in k}
    clip['visual.conv1.weight'] = torch.zeros(4, 3, 2, 2)  # OpenAI's file holds both towers
    dinov2 = {k[len('dinov2.'):]: v for k, v in state.items()
              if k.startswith('dinov2.') and '.adapter.' not in k}
    conversion = convert_detris_pretrained(clip, dinov2)
    assert sorted(k for k, _ in conversion.dropped) == ['logit_scale', 'visual.conv1.weight']
    model = MODELS.build(detris_tiny_model_cfg)
    missing, unexpected = model.load_state_dict(conversion.state_dict, strict=False)
    assert not unexpected
    # what a training learns: the adapters and the head (less CLIP's frozen projection)
    assert {k.split('.')[0] + '.' + k.split('.')[1] for k in missing} == {
        'backbone.aligners', 'text_encoder.adapters', 'decode_head.neck',
        'decode_head.decoder', 'decode_head.projector'}
    torch.testing.assert_close(model.decode_head.text_projection.weight,
                               state['txt_backbone.text_projection'].t())
    # through the tool, from files
    torch.save(clip, tmp_path / 'clip.pt')
    torch.save(dinov2, tmp_path / 'dinov2.pth')
    _tool_module().main(['--clip', str(tmp_path / 'clip.pt'), '--dinov2',
                         str(tmp_path / 'dinov2.pth'), str(tmp_path / 'init.pth')])
    written = torch.load(tmp_path / 'init.pth', weights_only=True)['state_dict']
    assert len(written) == len(conversion.state_dict)


def test_a_torchscript_file_is_read_as_openai_ships_clip(tmp_path):
    module = torch.jit.script(nn.Linear(3, 2))
    module.save(str(tmp_path / 'ViT-tiny.pt'))
    read = load_public_tower(str(tmp_path / 'ViT-tiny.pt'), 'CLIP')
    assert set(read) == {'weight', 'bias'}
    torch.testing.assert_close(read['weight'], module.weight)


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    proc = run(str(tmp_path / 'missing.pth'), str(tmp_path / 'out.pth'))
    assert proc.returncode != 0 and 'missing.pth' in proc.stderr
    assert 'Traceback' not in proc.stderr
    tool = _tool_module()
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict={'module.backbone.x': torch.zeros(1)}), other)
    with pytest.raises(InputValueError, match='not a DETRIS checkpoint'):
        tool.main([str(other), str(tmp_path / 'out.pth')])
    with pytest.raises(SystemExit):
        tool.main(['--clip', 'a.pt', str(tmp_path / 'out.pth')])
    assert '--clip and --dinov2 go together' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()


def _tool_module():
    spec = importlib.util.spec_from_file_location('detris2mmamlris', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
