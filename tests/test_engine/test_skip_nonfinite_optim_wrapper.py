# Copyright (c) mmamlris contributors. All rights reserved.
"""NaN / Inf losses skip the update, are counted, and stop training after K in a row."""
import copy
import queue as queue_module
import socket
import time

import pytest
import torch
import torch.multiprocessing as mp
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from torch import nn

from mmamlris.engine.optimizers import (NonFiniteLossError, SkipNonFiniteAmpOptimWrapper,
                                        SkipNonFiniteOptimWrapper, skip_nonfinite_optim_wrapper)


def make(kind='SkipNonFiniteOptimWrapper', k=3, **kwargs):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    wrapper = build_optim_wrapper(model, dict(
        type=kind, optimizer=dict(type='AdamW', lr=0.1), max_consecutive_skips=k, **kwargs))
    return model, wrapper


def loss_of(model, scale=1.0):
    return (model(torch.ones(4, 3)) ** 2).mean() * scale


def snapshot(model, wrapper):
    return (copy.deepcopy(model.state_dict()),
            copy.deepcopy(wrapper.optimizer.state_dict()['state']))


def assert_same(a, b):
    for key in a[0]:
        assert torch.equal(a[0][key], b[0][key]), key
    assert a[1].keys() == b[1].keys()
    for pid in a[1]:
        for name, value in a[1][pid].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(b[1][pid][name]))


@pytest.fixture(autouse=True)
def fresh_message_hub():
    # the wrappers count into the current message hub: give every test an empty one
    hub = MessageHub.get_current_instance()
    hub.runtime_info.clear()
    hub.log_scalars.clear()
    yield hub


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_loss_leaves_weights_and_optimizer_untouched(bad, monkeypatch):
    messages = []
    monkeypatch.setattr(skip_nonfinite_optim_wrapper, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    model, wrapper = make()
    wrapper.update_params(loss_of(model))  # a normal step: Adam moments exist
    before = snapshot(model, wrapper)
    wrapper.update_params(loss_of(model, bad))
    assert_same(before, snapshot(model, wrapper))
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    hub = wrapper.message_hub
    assert hub.get_info('skipped_updates') == 1
    assert hub.get_scalar('train/skipped_updates').current() == 1
    assert len(messages) == 1 and 'the update is skipped (1 in a row, 1 in total' in messages[0]

    wrapper.update_params(loss_of(model))  # training goes on
    after = snapshot(model, wrapper)
    assert not torch.equal(after[0]['weight'], before[0]['weight'])
    assert wrapper.consecutive_skips == 0 and hub.get_info('skipped_updates') == 1


def test_stops_after_k_in_a_row_with_a_clear_message():
    model, wrapper = make(k=3)
    for _ in range(2):
        wrapper.update_params(loss_of(model, float('nan')))
    wrapper.update_params(loss_of(model))  # a finite loss resets the run of skips
    wrapper.update_params(loss_of(model, float('nan')))
    wrapper.update_params(loss_of(model, float('nan')))
    before = snapshot(model, wrapper)
    with pytest.raises(NonFiniteLossError, match='NaN/Inf for 3 iterations in a row') as err:
        wrapper.update_params(loss_of(model, float('nan')))
    assert 'last checkpoint' in str(err.value) and '--resume' in str(err.value)
    assert wrapper.message_hub.get_info('skipped_updates') == 5
    assert_same(before, snapshot(model, wrapper))


def test_accumulation_window_with_a_skip_makes_no_update():
    model, wrapper = make(accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 4)
    before = snapshot(model, wrapper)
    wrapper.update_params(loss_of(model))  # window 1: finite ...
    wrapper.update_params(loss_of(model, float('nan')))  # ... then NaN: no step
    assert_same(before, snapshot(model, wrapper))
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    wrapper.update_params(loss_of(model, float('nan')))  # window 2: NaN first ...
    wrapper.update_params(loss_of(model))  # ... the step at its end is dropped too
    assert_same(before, snapshot(model, wrapper))


def test_bad_max_consecutive_skips():
    with pytest.raises(ValueError, match='max_consecutive_skips'):
        make(k=0)


def test_amp_variant_skips_too(monkeypatch):
    # AmpOptimWrapper insists on an accelerator when built; its skip logic is the same code,
    # so build it on the CPU (the loss scaler then disables itself) and check the skip.
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    with pytest.warns(UserWarning):
        model, wrapper = make('SkipNonFiniteAmpOptimWrapper', dtype='bfloat16')
    assert isinstance(wrapper, SkipNonFiniteAmpOptimWrapper)
    wrapper.update_params(loss_of(model))
    before = snapshot(model, wrapper)
    wrapper.update_params(loss_of(model, float('inf')))
    assert_same(before, snapshot(model, wrapper))
    assert wrapper.message_hub.get_info('skipped_updates') == 1


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _ddp_worker(rank, port, queue):
    import datetime
    import os
    import traceback

    import faulthandler

    import torch.distributed as dist
    from mmengine.registry import init_default_scope
    faulthandler.dump_traceback_later(90)  # a stuck rank says where, on stderr
    try:
        torch.set_num_threads(1)
        init_default_scope('mmseg')
        # a bounded timeout: a rank whose peer is gone fails instead of waiting for ever
        dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                                world_size=2, timeout=datetime.timedelta(seconds=60))
        torch.manual_seed(0)
        model = nn.parallel.DistributedDataParallel(nn.Linear(3, 2))
        wrapper = SkipNonFiniteOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
        weights = []
        for step in range(3):
            # only rank 1 sees a NaN, at step 1: both ranks must skip, or DDP would hang
            scale = float('nan') if (rank == 1 and step == 1) else 1.0
            wrapper.update_params(loss_of(model, scale))
            weights.append(model.module.weight.detach().tolist())
        queue.put((rank, weights, wrapper.message_hub.get_info('skipped_updates')))
    except Exception:
        queue.put((rank, 'error', traceback.format_exc()))
    finally:
        # Leave without destructors. Tearing the gloo group down from Python (DDP's reducer
        # holds it) can deadlock in torch 2.x: the main thread, holding the GIL, joins the
        # group's run-loop thread, which waits for the GIL to free a finished work item
        # (seen here: 1 run in 8, stuck in ProcessGroupGloo::~ProcessGroupGloo). All
        # collectives are done once the result is sent; flush it and exit.
        queue.close()
        queue.join_thread()
        os._exit(0)


def test_ddp_every_rank_skips_when_one_rank_has_a_nan():
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    port = _free_port()
    # daemon workers, killed in `finally`: a rank that hangs must fail this test, never keep
    # the interpreter (and CI) waiting for it at exit
    procs = [ctx.Process(target=_ddp_worker, args=(r, port, queue), daemon=True)
             for r in range(2)]
    results = dict()
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + 300  # spawning imports torch + mmamlris in each worker
        while len(results) < len(procs):
            try:
                rank, weights, skipped = queue.get(timeout=5)
            except queue_module.Empty:
                dead = [(r, p.exitcode) for r, p in enumerate(procs)
                        if p.exitcode not in (None, 0) and r not in results]
                assert not dead, f'workers died without a result (rank, exit code): {dead}'
                assert time.monotonic() < deadline, f'no result after 300 s from ranks ' \
                    f'{sorted(set(range(len(procs))) - set(results))}'
                continue
            assert weights != 'error', f'rank {rank} failed:\n{skipped}'
            results[rank] = (weights, skipped)
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(timeout=10)
    for rank in (0, 1):
        weights, skipped = results[rank]
        assert skipped == 1
        assert weights[1] == weights[0]  # step 1 made no update on either rank
        assert weights[2] != weights[1]  # step 2 did
    assert results[0][0] == results[1][0]  # the ranks stayed in sync


def test_batch_norm_statistics_of_a_skipped_step_are_put_back():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    wrapper = build_optim_wrapper(model, dict(type='SkipNonFiniteOptimWrapper',
                                              optimizer=dict(type='SGD', lr=0.1)))
    model.train()
    x = torch.randn(8, 3)
    x[0, 0] = float('nan')  # a NaN input: the forward pass itself poisons the BN statistics
    before = copy.deepcopy(model.state_dict())
    with wrapper.optim_context(model):
        loss = model(x).sum()
    assert torch.isnan(model[1].running_mean).any()
    wrapper.update_params(loss)
    for key, value in before.items():
        assert torch.equal(model.state_dict()[key], value), key

    with wrapper.optim_context(model):  # a finite step keeps its statistics
        loss = model(torch.randn(8, 3)).sum()
    wrapper.update_params(loss)
    assert not torch.equal(model[1].running_mean, before['1.running_mean'])
    assert int(model[1].num_batches_tracked) == 1
