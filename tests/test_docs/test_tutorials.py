# Copyright (c) mmamlris contributors. All rights reserved.
"""The code in docs/en/tutorials/new_decoder.md and your_own_model.md runs as written."""
import copy
import os.path as osp
import re

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from mmamlris.registry import MODELS
from mmamlris.testing.ris_inputs import demo_ris_inputs

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(ROOT, 'docs', 'en', 'tutorials', 'new_decoder.md')
OWN_MODEL_DOC = osp.join(ROOT, 'docs', 'en', 'tutorials', 'your_own_model.md')


def _python_blocks(doc=DOC, section=None):
    """The ```python blocks of ``doc``, or of its ``## {section}`` only (a tutorial may show
    abridged excerpts of real configs in other sections)."""
    with open(doc, encoding='utf-8') as f:
        text = f.read()
    if section is not None:
        start = text.index(f'\n## {section}\n')
        end = text.find('\n## ', start + 1)
        text = text[start:end if end != -1 else len(text)]
    return re.findall(r'```python\n(.*?)```', text, flags=re.S)


def _tutorial_config(doc, registered, base, user_module, tmp_path, section=None):
    """Run a tutorial's module code as written, then load its config with ``base`` (a file in
    configs/amlris/) in place of the installed path and without the user's module."""
    module_code, config_code = _python_blocks(doc, section)
    MODELS._module_dict.pop(registered, None)  # re-runs in one session
    exec(compile(module_code, doc, 'exec'), {})
    config_code = config_code.replace(
        repr(f'mmamlris/configs/amlris/{base}'),
        repr(osp.join(ROOT, 'configs', 'amlris', base))).replace(f", '{user_module}'", '')
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(config_code)
    return Config.fromfile(str(cfg_file))


def test_new_decoder_tutorial_trains_with_aml(tmp_path):
    cfg = _tutorial_config(DOC, 'SentenceDotHead', 'amlris_lite_minilm_synref-160x160.py',
                           'my_package.sentence_dot_head', tmp_path)
    assert cfg.model.decode_head.type == 'SentenceDotHead'
    assert cfg.model.aml.type == 'AlignmentAwareMasking'

    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = model.train_step(demo_ris_inputs(batch_size=2, image_shapes=((64, 64), )),
                                optim)
    assert torch.isfinite(log_vars['loss'])
    assert 'aml_mask_ratio' in log_vars
    model.eval()
    out = model.test_step(demo_ris_inputs(batch_size=1, image_shapes=((64, 64), )))
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)


def test_your_own_model_tutorial_trains_an_early_fusion_model_with_aml(tmp_path):
    from mmamlris.utils import offline_model_cfg
    cfg = _tutorial_config(OWN_MODEL_DOC, 'ToyFusedBackbone',
                           'amlris_lite_mbv2_minilm_synref-160x160.py',
                           'my_package.toy_fused_backbone', tmp_path,
                           section='A worked example')
    torch.manual_seed(0)
    model = MODELS.build(offline_model_cfg(cfg.model)[0])
    assert model.backbone_takes_text
    calls = []
    model.backbone.register_forward_hook(lambda m, args, out: calls.append(len(args)))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = model.train_step(demo_ris_inputs(batch_size=2, image_shapes=((64, 64), )),
                                optim)
    assert torch.isfinite(log_vars['loss']) and 'aml_mask_ratio' in log_vars
    assert calls == [3, 3]  # stage 1 and stage 2, each with the text
