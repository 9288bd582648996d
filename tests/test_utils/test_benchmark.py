# Copyright (c) mmamlris contributors. All rights reserved.
"""The timing, memory and FLOP helpers of the benchmark tools (mmamlris.utils.benchmark)."""
import torch
from mmengine.config import Config

from mmamlris.utils import benchmark as bench
from mmamlris.utils import offline_model_cfg


def test_count_flops_of_a_call_and_of_the_methods_it_calls():
    linear = torch.nn.Linear(4, 8)

    class Caller:
        def inner(self, x):
            return linear(x)

    caller = Caller()
    x = torch.randn(3, 4)
    total, parts = bench.count_flops(lambda: caller.inner(x) @ torch.randn(8, 5),
                                     dict(inner=(caller, 'inner')))
    assert parts == dict(inner=2 * 3 * 4 * 8)  # addmm: 2 * B * in * out
    assert total == 2 * 3 * 4 * 8 + 2 * 3 * 8 * 5
    assert 'inner' not in vars(caller)  # the method is unshadowed afterwards


def test_absent_pretrained_files_become_random_init():
    cfg = Config(dict(model=dict(
        backbone=dict(type='X', init_cfg=dict(type='Pretrained', checkpoint='absent.pth')),
        text_encoder=dict(type='HFTextEncoder', pretrained='absent/bert-base-uncased'))))
    model_cfg, notes = offline_model_cfg(cfg.model)
    assert 'init_cfg' not in model_cfg.backbone
    assert model_cfg.text_encoder.pretrained is None
    assert model_cfg.text_encoder.config == dict(model_type='bert')
    assert len(notes) == 2


def test_memory_tracker_counts_live_storages_and_their_peak():
    mib = 1 << 20
    with bench.TensorMemoryTracker() as tracker:
        a = torch.empty(mib, dtype=torch.uint8)
        b = torch.empty(2 * mib, dtype=torch.uint8)
        view = b[:10]  # a view allocates nothing
        a.add_(1)  # in place: nothing new
        assert tracker.live_bytes == 3 * mib
        del a, b
        assert tracker.live_bytes == 2 * mib  # the view keeps b's storage alive
        del view
        assert tracker.live_bytes == 0
        c = torch.empty(mib, dtype=torch.uint8)
    assert tracker.peak_bytes == 3 * mib
    del c


def test_memory_tracker_sees_backward():
    x = torch.randn(256, 256, requires_grad=True)  # created outside: not counted
    nbytes = x.numel() * 4
    with bench.TensorMemoryTracker() as tracker:
        y = (x * 2).sin()  # keeps x * 2 for the backward of sin
        assert tracker.live_bytes == 2 * nbytes
        y.sum().backward()
    assert x.grad is not None
    assert tracker.peak_bytes >= 3 * nbytes  # x * 2, y and at least x.grad at one moment


def test_time_alternating_reverses_the_order_every_iteration():
    calls = []
    times = bench.time_alternating({'a': lambda: calls.append('a'),
                                    'b': lambda: calls.append('b')}, iters=2, warmup=1,
                                   device=torch.device('cpu'))
    assert calls == ['a', 'b', 'b', 'a', 'a', 'b']
    assert [len(v) for v in times.values()] == [2, 2]
    assert all(t >= 0 for v in times.values() for t in v)


def test_the_image_size_is_read_from_resize_or_letterbox():
    def cfg(transform):
        return Config(dict(train_dataloader=dict(dataset=dict(pipeline=[
            dict(type='LoadRISImageFromFile'), transform]))))
    assert bench.config_img_size(cfg(dict(type='Resize', scale=(160, 120)))) == (120, 160)
    assert bench.config_img_size(cfg(dict(type='LetterBox', size=(112, 140)))) == (112, 140)
    assert bench.config_img_size(cfg(dict(type='LetterBox'))) == (448, 448)
