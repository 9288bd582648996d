# Copyright (c) mmamlris contributors. All rights reserved.
"""``--amp``: fp16 / bf16 on CUDA with AML, refused on the CPU; AMP configs fall back there."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmamlris.registry import MODELS
from mmamlris.testing.ris_inputs import demo_ris_inputs, tiny_aml_cfg, tiny_segmentor_cfg
from mmamlris.testing.tiny_configs import REPO_ROOT
from mmamlris.utils import InputValueError
from mmamlris.utils.amp import disable_amp, enable_amp, is_amp

CPU_SCHEDULE = osp.join(REPO_ROOT, 'configs/_base_/schedules/schedule_cpu_1500it.py')
GPU_SCHEDULE = osp.join(REPO_ROOT, 'configs/_base_/schedules/schedule_50e.py')


def test_amp_is_refused_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config.fromfile(CPU_SCHEDULE)
    with pytest.raises(InputValueError, match='--amp needs a CUDA GPU'):
        enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'SkipNonFiniteOptimWrapper'  # unchanged


@pytest.mark.parametrize('dtype, loss_scale', [('float16', 'dynamic'), ('bfloat16', 1.0)])
def test_enable_amp_picks_the_nan_skipping_amp_wrapper(monkeypatch, dtype, loss_scale):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config.fromfile(CPU_SCHEDULE)
    enable_amp(cfg, dtype)
    assert cfg.optim_wrapper.type == 'SkipNonFiniteAmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == dtype and cfg.optim_wrapper.loss_scale == loss_scale
    assert is_amp(cfg)
    with pytest.raises(InputValueError, match='float16 or bfloat16'):
        enable_amp(Config.fromfile(CPU_SCHEDULE), 'int8')
    cfg = Config(dict(optim_wrapper=dict(type='MyWrapper')))
    with pytest.raises(InputValueError, match="counterpart of optim_wrapper type 'MyWrapper'"):
        enable_amp(cfg)


def test_disable_amp_gives_the_fp32_counterpart():
    cfg = Config.fromfile(GPU_SCHEDULE)
    assert is_amp(cfg)
    assert disable_amp(cfg)
    assert cfg.optim_wrapper.type == 'SkipNonFiniteOptimWrapper'
    assert 'dtype' not in cfg.optim_wrapper and 'loss_scale' not in cfg.optim_wrapper
    assert not disable_amp(cfg)
    wrapper = build_optim_wrapper(torch.nn.Linear(2, 2), cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'SkipNonFiniteOptimWrapper'


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only refusal')
def test_train_tool_refuses_amp_on_the_cpu():
    proc = subprocess.run(
        [sys.executable, 'tools/train.py',
         'configs/amlris/amlris_lite_minilm_synref-160x160.py', '--amp'],
        cwd=REPO_ROOT, text=True, capture_output=True, timeout=300)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith('Error: --amp needs a CUDA GPU')
    assert 'Traceback' not in proc.stderr


@pytest.mark.gpu
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
@pytest.mark.parametrize('scorer', ['PatchMaxScorer', 'LearnedScorer'])
def test_amp_training_step_with_aml_on_cuda(dtype, scorer):
    cfg = Config(dict(optim_wrapper=dict(type='SkipNonFiniteOptimWrapper',
                                         optimizer=dict(type='AdamW', lr=1e-4))))
    enable_amp(cfg, dtype)
    torch.manual_seed(0)
    aml = tiny_aml_cfg(scorer=dict(type=scorer))  # LearnedScorer: its head trains in fp32
    model = MODELS.build(tiny_segmentor_cfg(aml=aml)).cuda()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    log_vars = model.train_step(demo_ris_inputs(batch_size=2), wrapper)
    assert torch.isfinite(log_vars['loss']) and 'aml_mask_ratio' in log_vars
    if scorer == 'LearnedScorer':  # the head learned, in fp32, from its own loss
        assert torch.isfinite(log_vars['aml.loss_scorer'])
        head = [p for p in model.parameters() if any(p is q for q in
                                                     model.aml.scorer.parameters())]
        assert head and all(p.dtype == torch.float32 for p in head)
        changed = {id(p) for a, p in zip(before, model.parameters()) if not torch.equal(a, p)}
        assert all(id(p) in changed for p in head)
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
