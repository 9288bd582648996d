# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef-GRES end to end: train (no-target head, AML) and test with GRESMetric, in one
process and in two (gloo), which must agree."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

from mmamlris.datasets.synref import generate_synref
from mmamlris.evaluation import gres_scores
from mmamlris.testing.tiny_configs import REPO_ROOT, run_repo_tool, write_tiny_config
from mmamlris.utils import load_config


run = run_repo_tool


def test_train_and_test_report_the_gres_metrics(tmp_path):
    # the AML config inherits the baseline's no-target head: both are exercised
    config = 'amlris/amlris_lite_mbv2_minilm_synref-gres-160x160.py'
    data_root = str(tmp_path / 'synref')
    generate_synref(data_root, num_images=12, img_size=64, seed=0, gres=True,
                    no_target_ratio=0.5)
    # the toy ResNet of the other tool tests instead of the pretrained MobileNetV2
    backbone = load_config(osp.join(REPO_ROOT, 'configs/_base_/models/lite_r18-half_minilm.py'))
    cfg = write_tiny_config(config, str(tmp_path / 'gres.py'), data_root, max_iters=2, extra={
        'model.backbone': dict(backbone.model.backbone, _delete_=True, init_cfg=None,
                               stem_channels=8, base_channels=8),
        'custom_hooks': []})
    log = run('tools/train.py', cfg, '--work-dir', str(tmp_path / 'work'))
    assert 'loss_no_target' in log
    assert 'aml_mask_ratio' in log and 'nan' not in log.split('aml_target_auc')[-1][:20]
    ckpt = osp.join(tmp_path / 'work', 'iter_2.pth')
    one, two = str(tmp_path / 'one.json'), str(tmp_path / 'two.json')
    out = run('tools/test.py', cfg, ckpt, '--work-dir', str(tmp_path / 'test'), '--out', one)
    for key in ('val_gIoU', 'val_cIoU', 'val_N-acc', 'val_T-acc', 'testB_prec@0.9'):
        assert key in out, key

    # two processes: the sampler pads an odd split, the padding must not count
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = str(s.getsockname()[1])
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable, PORT=port)
    proc = subprocess.run(['bash', 'tools/dist_test.sh', cfg, ckpt, '2', '--work-dir',
                           str(tmp_path / 'test2'), '--out', two], cwd=REPO_ROOT, env=env,
                          text=True, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = []
    for path in (one, two):
        with open(path) as f:
            records.append(json.load(f))
    splits = {r['split'] for r in records[0]}
    assert any(sum(r['split'] == s for r in records[0]) % 2 for s in splits), \
        'no split of odd size: the padding of the sampler is not exercised'
    assert any(not r['target'] for r in records[0]), 'no no-target expression was evaluated'
    key = lambda r: (r['split'], r['sent_id'])  # noqa: E731
    assert sorted(records[1], key=key) == sorted(records[0], key=key)
    for split in splits:
        assert gres_scores([r for r in records[1] if r['split'] == split]) == \
            gres_scores([r for r in records[0] if r['split'] == split])
