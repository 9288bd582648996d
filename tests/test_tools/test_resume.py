# Copyright (c) mmamlris contributors. All rights reserved.
"""``tools/train.py --resume`` continues exactly: N + M iterations in one go equal N, a crash,
then ``--resume`` for M (weights, optimizer state, iteration, learning rate)."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

from mmamlris.testing.tiny_configs import REPO_ROOT, make_tiny_synref, write_tiny_config

N, TOTAL = 3, 6


def train(cfg, work_dir, *args):
    # No TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD here: the tools must load checkpoints on their own.
    env = {k: v for k, v in os.environ.items() if k != 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'}
    env['OMP_NUM_THREADS'] = '1'
    proc = subprocess.run([sys.executable, 'tools/train.py', cfg, '--work-dir', work_dir, *args],
                          cwd=REPO_ROOT, env=env, text=True, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def crash_after_n(work_dir, crashed_dir):
    """The state a run killed after iteration N leaves behind: its work dir with iter_N only."""
    os.makedirs(crashed_dir)
    shutil.copy(osp.join(work_dir, f'iter_{N}.pth'), crashed_dir)
    with open(osp.join(crashed_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(crashed_dir, f'iter_{N}.pth'))


def load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


@pytest.fixture(scope='module', params=[0, 2], ids=['main-process', '2-workers'])
def tiny(tmp_path_factory, request):
    root = tmp_path_factory.mktemp('resume')
    data_root = make_tiny_synref(str(root / 'synref'), num_images=10)
    # AML with its random block choice, a warm-up + poly schedule, validation every 3
    # iterations right after the checkpoint (a new best score makes mmengine save the
    # checkpoint again, mid-validation), random sentence per visit.
    cfg = write_tiny_config(
        'amlris/amlris_lite_minilm_synref-160x160.py', str(root / 'aml.py'), data_root,
        max_iters=TOTAL, extra={
            'custom_hooks': [],
            'model.aml.filter.tau': 0.9, 'model.aml.filter.rho': 0.5,
            'train_cfg.val_interval': N,
            # data loaded in the main process (draws from its generators) or by persistent
            # worker processes (each seeded by mmengine's worker_init_fn)
            'train_dataloader.num_workers': request.param,
            'train_dataloader.persistent_workers': request.param > 0,
            'default_hooks.checkpoint.interval': N,
            'default_hooks.checkpoint.max_keep_ckpts': -1,
            'param_scheduler': [
                dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2),
                dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0,
                     end=TOTAL)],
        })
    whole = str(root / 'whole')
    train(cfg, whole)
    return dict(root=root, cfg=cfg, whole=whole)


def test_resume_gives_the_uninterrupted_weights(tiny):
    resumed = str(tiny['root'] / 'resumed')
    crash_after_n(tiny['whole'], resumed)
    log = train(tiny['cfg'], resumed, '--resume')
    assert f'resumed epoch: 0, iter: {N}' in log

    ref, got = load(osp.join(tiny['whole'], f'iter_{TOTAL}.pth')), \
        load(osp.join(resumed, f'iter_{TOTAL}.pth'))
    assert got['meta']['iter'] == ref['meta']['iter'] == TOTAL
    assert got['state_dict'].keys() == ref['state_dict'].keys()
    for key, value in ref['state_dict'].items():
        torch.testing.assert_close(got['state_dict'][key], value, rtol=1e-6, atol=1e-7,
                                   msg=f'{key} differs after resume')
    for pid, state in ref['optimizer']['state'].items():
        for name, value in state.items():
            torch.testing.assert_close(got['optimizer']['state'][pid][name], value,
                                       rtol=1e-6, atol=1e-7)
    ref_lr = [g['lr'] for g in ref['optimizer']['param_groups']]
    assert [g['lr'] for g in got['optimizer']['param_groups']] == pytest.approx(ref_lr)
    # the random generators were saved with the checkpoint, one state per process
    assert len(ref['random_states']) == 1


def test_the_generators_are_what_makes_it_exact(tiny):
    """Control: resuming a checkpoint without the random states gives other weights, so the
    test above checks something (AML's random block choice and the sentence draw differ)."""
    resumed = str(tiny['root'] / 'resumed_without_states')
    crash_after_n(tiny['whole'], resumed)
    checkpoint = load(osp.join(resumed, f'iter_{N}.pth'))
    del checkpoint['random_states']
    torch.save(checkpoint, osp.join(resumed, f'iter_{N}.pth'))
    log = train(tiny['cfg'], resumed, '--resume')
    assert 'has no random states' in log
    ref = load(osp.join(tiny['whole'], f'iter_{TOTAL}.pth'))['state_dict']
    got = load(osp.join(resumed, f'iter_{TOTAL}.pth'))['state_dict']
    assert any(not torch.allclose(got[k].float(), v.float(), rtol=1e-6, atol=1e-7)
               for k, v in ref.items())


def test_resume_from_an_explicit_path(tiny):
    resumed = str(tiny['root'] / 'explicit')
    log = train(tiny['cfg'], resumed, '--resume', osp.join(tiny['whole'], f'iter_{N}.pth'))
    assert f'resumed epoch: 0, iter: {N}' in log
    ref = load(osp.join(tiny['whole'], f'iter_{TOTAL}.pth'))['state_dict']
    got = load(osp.join(resumed, f'iter_{TOTAL}.pth'))['state_dict']
    for key, value in ref.items():
        torch.testing.assert_close(got[key], value, rtol=1e-6, atol=1e-7)


def epoch_cfg(root, data_root, name, persistent, init_fn):
    """The tiny AML config trained by epochs (as the RefCOCO configs), with 2 workers."""
    loader = {'train_dataloader.num_workers': 2,
              'train_dataloader.persistent_workers': persistent,
              'train_dataloader.sampler': dict(type='DefaultSampler', shuffle=True)}
    if init_fn:
        loader['train_dataloader.worker_init_fn'] = dict(type='worker_init_from_torch_seed')
    return write_tiny_config(
        'amlris/amlris_lite_minilm_synref-160x160.py', str(root / f'{name}.py'), data_root,
        extra=dict(loader, **{
            'custom_hooks': [], 'model.aml.filter.tau': 0.9, 'model.aml.filter.rho': 0.5,
            'train_cfg': dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2,
                              val_interval=1),
            'default_hooks.checkpoint': dict(type='CheckpointHook', by_epoch=True, interval=1,
                                             max_keep_ckpts=-1),
        }))


@pytest.mark.parametrize('persistent, init_fn, exact', [
    (False, True, True),  # the RefCOCO configs
    (True, False, False),  # control: mmengine's default seeding with persistent workers
], ids=['refcoco-loader', 'control-persistent-default-seeding'])
def test_epoch_based_resume(tmp_path, persistent, init_fn, exact):
    data_root = make_tiny_synref(str(tmp_path / 'synref'), num_images=10)
    cfg = epoch_cfg(tmp_path, data_root, 'epochs', persistent, init_fn)
    whole, resumed = str(tmp_path / 'whole'), str(tmp_path / 'resumed')
    train(cfg, whole)
    os.makedirs(resumed)
    shutil.copy(osp.join(whole, 'epoch_1.pth'), resumed)  # killed after epoch 1
    with open(osp.join(resumed, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(resumed, 'epoch_1.pth'))
    log = train(cfg, resumed, '--resume')
    assert 'resumed epoch: 1' in log
    ref = load(osp.join(whole, 'epoch_2.pth'))['state_dict']
    got = load(osp.join(resumed, 'epoch_2.pth'))['state_dict']
    same = all(torch.allclose(got[k].float(), v.float(), rtol=1e-6, atol=1e-7)
               for k, v in ref.items())
    assert same == exact
