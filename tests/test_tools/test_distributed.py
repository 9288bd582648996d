# Copyright (c) mmamlris contributors. All rights reserved.
"""Two-process training and evaluation on the CPU (gloo) through tools/dist_*.sh, as users
launch them on GPUs (NCCL)."""
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import pytest
import torch

from mmamlris.testing.tiny_configs import REPO_ROOT, make_tiny_synref, write_tiny_config

ITERS = 4
HELPERS = osp.join(osp.dirname(osp.abspath(__file__)), 'helpers')


def free_port() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def tool_env(**extra):
    """One thread per process, and the recorder hook importable (``helpers/``)."""
    path = os.pathsep.join(filter(None, [HELPERS, os.environ.get('PYTHONPATH')]))
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=path, **extra)


def launch(script, *args):
    env = tool_env(PYTHON=sys.executable, PORT=free_port())
    proc = subprocess.run(['bash', script, *args], cwd=REPO_ROOT, env=env, text=True,
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def scores(path):
    with open(path) as f:
        records = json.load(f)
    union = sum(r['u'] for r in records)
    return records, (sum(r['i'] / r['u'] if r['u'] else 0.0 for r in records) / len(records),
                     sum(r['i'] for r in records) / union)


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('dist')
    # 9 images: split sizes that 2 processes cannot share evenly, so the sampler pads
    data_root = make_tiny_synref(str(root / 'synref'), num_images=9)
    cfg = write_tiny_config(
        'amlris/amlris_lite_minilm_synref-160x160.py', str(root / 'aml.py'), data_root,
        max_iters=ITERS, extra={
            'model.aml.filter.tau': 0.9, 'model.aml.filter.rho': 0.5,
            'custom_imports.imports': ['mmamlris', 'aml_mask_recorder'],
            'custom_hooks': [dict(type='RecordAMLMasksHook')],
            'default_hooks.checkpoint.interval': 2,
            'default_hooks.checkpoint.max_keep_ckpts': -1,
        })
    runs = []
    for name in ('first', 'again'):
        work_dir = str(root / name)
        log = launch('tools/dist_train.sh', cfg, '2', '--work-dir', work_dir)
        runs.append(dict(work_dir=work_dir, log=log))
    return dict(root=root, cfg=cfg, runs=runs)


def test_two_process_training_validates_and_checkpoints(dist_run):
    first = dist_run['runs'][0]
    assert 'backend: gloo' in first['log'] or "'backend': 'gloo'" in first['log']
    assert 'oIoU' in first['log']
    assert osp.isfile(osp.join(first['work_dir'], f'iter_{ITERS}.pth'))
    checkpoint = torch.load(osp.join(first['work_dir'], f'iter_{ITERS}.pth'),
                            map_location='cpu', weights_only=False)
    assert len(checkpoint['random_states']) == 2  # both ranks' generators, for --resume


def test_ranks_draw_their_own_reproducible_aml_masks(dist_run):
    runs = [[torch.load(osp.join(run['work_dir'], f'aml_masks_rank{r}.pt'), weights_only=False)
             for r in (0, 1)] for run in dist_run['runs']]
    rank0, rank1 = runs[0]
    assert len(rank0) == len(rank1) == ITERS
    for a, b in zip(rank0, rank1):
        assert not torch.equal(a['rng'], b['rng']), 'ranks share one random stream'
        assert a['samples'] != b['samples'], 'ranks trained on the same samples'
    assert any(not torch.equal(a['block_mask'], b['block_mask']) for a, b in zip(rank0, rank1))
    assert any(a['block_mask'].any() for a in rank0 + rank1)
    # the same seed gives the same masks, rank by rank
    for rank in (0, 1):
        for a, b in zip(runs[0][rank], runs[1][rank]):
            assert a['samples'] == b['samples']
            assert torch.equal(a['block_mask'], b['block_mask'])
            assert torch.equal(a['rng'], b['rng'])


def test_two_process_resume_is_exact(dist_run):
    first = dist_run['runs'][0]['work_dir']
    resumed = str(dist_run['root'] / 'resumed')
    os.makedirs(resumed)
    shutil.copy(osp.join(first, 'iter_2.pth'), resumed)  # as if killed after iteration 2
    with open(osp.join(resumed, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(resumed, 'iter_2.pth'))
    log = launch('tools/dist_train.sh', dist_run['cfg'], '2', '--work-dir', resumed,
                 '--resume', '--cfg-options', 'custom_hooks=[]')
    assert 'resumed epoch: 0, iter: 2' in log and 'random states' not in log
    ref = torch.load(osp.join(first, f'iter_{ITERS}.pth'), map_location='cpu',
                     weights_only=False)['state_dict']
    got = torch.load(osp.join(resumed, f'iter_{ITERS}.pth'), map_location='cpu',
                     weights_only=False)['state_dict']
    for key, value in ref.items():
        torch.testing.assert_close(got[key], value, rtol=1e-6, atol=1e-7, msg=key)


def test_one_and_two_process_evaluation_agree(dist_run):
    root = dist_run['root']
    checkpoint = osp.join(dist_run['runs'][0]['work_dir'], f'iter_{ITERS}.pth')
    one, two = str(root / 'one.json'), str(root / 'two.json')
    env = tool_env()
    proc = subprocess.run([sys.executable, 'tools/test.py', dist_run['cfg'], checkpoint,
                           '--work-dir', str(root / 'test1'), '--out', one], cwd=REPO_ROOT,
                          env=env, text=True, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    launch('tools/dist_test.sh', dist_run['cfg'], checkpoint, '2', '--work-dir',
           str(root / 'test2'), '--out', two)
    records1, (miou1, oiou1) = scores(one)
    records2, (miou2, oiou2) = scores(two)
    assert len(records1) % 2 == 1, 'the padding of the sampler is not exercised'
    key = lambda r: (r['split'], r['sent_id'])  # noqa: E731
    assert sorted(map(key, records2)) == sorted(map(key, records1))  # none dropped or doubled
    assert len(set(map(key, records2))) == len(records2)
    assert miou2 == pytest.approx(miou1, abs=1e-9) and oiou2 == pytest.approx(oiou1, abs=1e-9)
