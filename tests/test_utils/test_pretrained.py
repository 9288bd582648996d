# Copyright (c) mmamlris contributors. All rights reserved.
"""offline_model_cfg: random init where a pretrained file is missing, at any depth."""
from mmengine.config import ConfigDict

from mmamlris.utils import offline_model_cfg


def test_missing_checkpoints_are_dropped_wherever_they_sit(tmp_path):
    present = tmp_path / 'here.pth'
    present.write_bytes(b'')
    model = ConfigDict(
        backbone=dict(type='LAVTSwinTransformer', swin=dict(
            type='SwinTransformer', init_cfg=dict(type='Pretrained', checkpoint='absent.pth'))),
        neck=dict(init_cfg=dict(type='Pretrained', checkpoint=str(present))),
        decode_head=dict(init_cfg=dict(type='Pretrained', checkpoint='https://x/y.pth')),
        text_encoder=dict(type='HFTextEncoder', pretrained='all-MiniLM-L6-v2'))
    cfg, notes = offline_model_cfg(model)
    assert 'init_cfg' not in cfg.backbone.swin  # nested: dropped
    assert cfg.neck.init_cfg.checkpoint == str(present)  # present: kept
    assert cfg.decode_head.init_cfg.checkpoint == 'https://x/y.pth'  # a URL: mmengine's job
    assert notes == ['backbone.swin: absent.pth absent -> random init']
    assert model.backbone.swin.init_cfg.checkpoint == 'absent.pth'  # the input is untouched
