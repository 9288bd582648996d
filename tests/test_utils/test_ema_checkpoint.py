# Copyright (c) mmamlris contributors. All rights reserved.
"""The trained weights of an EMAHook checkpoint (which stores the averaged ones as state_dict)."""
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import EMAHook
from mmengine.model import ExponentialMovingAverage

from mmamlris.utils import InputValueError, ema_source_weights, write_ema_source_weights


class _Runner:
    def __init__(self, model):
        self.model = model
        self._resume = False
        self.iter = self.epoch = 0


def test_the_trained_weights_come_back_from_an_ema_hook_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    hook = EMAHook(ema_type='ExponentialMovingAverage', momentum=0.5)
    runner = _Runner(model)
    hook.before_run(runner)
    hook.after_load_checkpoint(runner, dict(state_dict=model.state_dict()))
    hook.after_train_iter(runner, 0)  # the first update copies the weights
    with torch.no_grad():
        model.weight.add_(1.0)  # a training step
    hook.after_train_iter(runner, 0)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    checkpoint = dict(state_dict=model.state_dict(), meta=dict(epoch=1))
    hook.before_save_checkpoint(runner, checkpoint)  # swaps: state_dict = averaged
    assert not torch.equal(checkpoint['state_dict']['weight'], trained['weight'])
    weights = ema_source_weights(checkpoint)
    assert weights.keys() == trained.keys()
    for key in trained:
        torch.testing.assert_close(weights[key], trained[key])
    torch.save(checkpoint, tmp_path / 'ema.pth')
    out = write_ema_source_weights(str(tmp_path / 'ema.pth'), str(tmp_path / 'trained.pth'))
    saved = torch.load(out, weights_only=True)
    torch.testing.assert_close(saved['state_dict']['weight'], trained['weight'])
    assert isinstance(hook.ema_model, ExponentialMovingAverage)


def test_a_checkpoint_without_averaging_is_a_clear_error():
    with pytest.raises(InputValueError, match='a.pth: no ema_state_dict'):
        ema_source_weights(dict(state_dict={'w': torch.zeros(1)}), 'a.pth')
    with pytest.raises(InputValueError, match='different keys'):
        ema_source_weights(dict(state_dict={'w': torch.zeros(1)},
                                ema_state_dict={'steps': torch.zeros(1),
                                                'module.v': torch.zeros(1)}))
