# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/analysis_tools/ablation_synref.py runs every variant and tabulates mean ± std."""
import os
import re
import subprocess
import sys

from mmamlris.testing.tiny_configs import REPO_ROOT, make_tiny_synref, write_tiny_config
from tools.analysis_tools import ablation_synref as ablation


def test_scores_from_records_match_the_definitions():
    records = [dict(split='val', i=1, u=2), dict(split='val', i=0, u=0),
               dict(split='val', i=3, u=4)]
    out = ablation.scores(records)
    assert out['val_mIoU'] == 100 * (0.5 + 0 + 0.75) / 3
    assert out['val_oIoU'] == 100 * 4 / 6
    assert 'testA_mIoU' not in out


def test_two_variants_end_to_end(tmp_path):
    data_root = make_tiny_synref(str(tmp_path / 'synref'), num_images=10)
    base = write_tiny_config('lite/lite_minilm_synref-160x160.py', str(tmp_path / 'base.py'),
                             data_root)
    aml = write_tiny_config('amlris/amlris_lite_minilm_synref-160x160.py',
                            str(tmp_path / 'aml.py'), data_root)
    md = tmp_path / 'table.md'
    proc = subprocess.run(
        [sys.executable, 'tools/analysis_tools/ablation_synref.py', '--baseline-config', base,
         '--aml-config', aml, '--variants', 'baseline', 'random', '--seeds', '0',
         '--work-dir', str(tmp_path / 'work'), '--out-md', str(md)],
        cwd=REPO_ROOT, env=dict(os.environ, OMP_NUM_THREADS='1'), capture_output=True,
        text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = md.read_text().splitlines()
    assert rows[2].startswith('| baseline (no AML) | 1 |')
    assert rows[3].startswith('| + random mask (same count) | 1 |')
    # 6 metric cells with mean ± std, then masked / weak: dashes for the baseline only
    assert len(re.findall(r'\d+\.\d\d ± \d+\.\d\d', rows[2])) == 6
    assert len(re.findall(r'\d+\.\d\d ± \d+\.\d\d', rows[3])) == 8
