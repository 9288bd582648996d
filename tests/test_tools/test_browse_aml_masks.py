# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/analysis_tools/browse_aml_masks.py on a tiny SynRef with a tiny random model."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmamlris.datasets import synref
from mmamlris.testing.tiny_configs import TINY_MODEL
from mmamlris.utils import InputError
from tools.analysis_tools import browse_aml_masks as browse

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 160  # the SynRef training pipeline resizes to 160 x 160
NUM_PANELS = 6  # input, heat map, weak set, block mask, stage-2 input, GT
MEAN_RGB = np.array([124, 116, 104])  # the data preprocessor's mean, rounded


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    """A tiny AML config and its baseline (no model.aml), on a tiny SynRef."""
    root = tmp_path_factory.mktemp('browse')
    data_root = str(root / 'synref')
    synref.generate_synref(data_root, num_images=8, img_size=64, seed=3)
    tiny = {
        **TINY_MODEL,
        'train_dataloader.dataset.data_root': data_root,
    }
    paths = dict(root=root)
    for name, config, extra in (
            ('baseline', ('lite', 'lite_minilm_synref-160x160.py'), {}),
            ('aml', ('amlris', 'amlris_lite_minilm_synref-160x160.py'),
             {'model.aml.scorer.vis_channels': 64, 'model.aml.scorer.text_channels': 32,
              'model.aml.filter.rho': 1.0})):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', *config))
        cfg.merge_from_dict(dict(tiny, **extra))
        paths[name] = str(root / f'{name}.py')
        cfg.dump(paths[name])
    return paths


def read_panels(path):
    drawn = cv2.imread(path)[..., ::-1].astype(int)
    assert drawn.shape[1] == NUM_PANELS * SIZE and drawn.shape[0] > SIZE
    return [drawn[:SIZE, i * SIZE:(i + 1) * SIZE] for i in range(NUM_PANELS)]


def test_writes_one_panel_image_per_sample_and_prints_fractions(configs, tmp_path, capsys):
    out = str(tmp_path / 'panels')
    means = browse.main([configs['aml'], '--out', out, '-n', '3', '--batch-size', '2',
                         '--device', 'cpu'])
    files = sorted(glob.glob(osp.join(out, '*.png')))
    assert len(files) == 3
    assert [osp.basename(f)[:5] for f in files] == ['0000_', '0001_', '0002_']
    for path in files:
        panels = read_panels(path)
        masked = panels[4]
        at_mean = (np.abs(masked - MEAN_RGB) <= 1).all(axis=2)
        # what is not masked is the input
        assert np.abs(masked[~at_mean] - panels[0][~at_mean]).max() <= 1
    printed = capsys.readouterr().out
    assert 'masked fraction (pixels)' in printed and 'weak fraction (pixels)' in printed
    assert f'{means["aml_mask_ratio"]:.3f}' in printed
    assert 0.0 < means['aml_mask_ratio'] <= means['aml_weak_ratio'] <= 1.0
    # rho=1 masks every weak block: the masked and weak fractions agree
    assert means['aml_mask_ratio'] == pytest.approx(means['aml_weak_ratio'])


@pytest.mark.parametrize('tau, expected', [(0.0, 0.0), (1.01, 1.0)])
def test_tau_extremes_through_cfg_options(configs, tmp_path, tau, expected):
    """Scores are in [0, 1]: tau=0 leaves nothing weak, tau>1 makes every block weak."""
    out = str(tmp_path / 'panels')
    means = browse.main([configs['aml'], '--out', out, '-n', '2', '--cfg-options',
                         f'model.aml.filter.tau={tau}'])
    assert means['aml_mask_ratio'] == pytest.approx(expected)
    # all or nothing is masked: the object and the background alike
    assert means['aml_object_masked'] == pytest.approx(expected)
    assert means['aml_context_masked'] == pytest.approx(expected)
    for path in glob.glob(osp.join(out, '*.png')):
        panels = read_panels(path)
        if expected == 0.0:
            assert np.abs(panels[4] - panels[0]).max() <= 1
        else:
            assert (np.abs(panels[4] - MEAN_RGB) <= 1).all()


def test_other_split_and_sample_cap(configs, tmp_path):
    out = str(tmp_path / 'panels')
    browse.main([configs['aml'], '--out', out, '-n', '50', '--split', 'val'])
    files = glob.glob(osp.join(out, '*.png'))
    assert 0 < len(files) < 50  # capped at the size of the split
    read_panels(files[0])


def test_refuses_a_config_without_aml(configs, tmp_path):
    with pytest.raises(InputError, match='has no model.aml'):
        browse.main([configs['baseline'], '--out', str(tmp_path / 'x')])
    with pytest.raises(SystemExit):
        browse.main([configs['aml'], '--out', str(tmp_path / 'x'), '-n', '0'])


def test_alignment_is_printed_and_averaged_per_image(configs, tmp_path, capsys):
    """The oracle ranks the object's blocks first and never masks them."""
    means = browse.main([configs['aml'], '--out', str(tmp_path / 'p'), '-n', '5',
                         '--batch-size', '2', '--cfg-options',
                         "model.aml.scorer.type=OracleScorer"])
    printed = capsys.readouterr().out
    assert 'target ROC-AUC (blocks)' in printed and 'context pixels masked' in printed
    assert means['aml_target_auc'] == 1.0 and means['aml_object_masked'] == 0.0
    assert 0.0 < means['aml_context_masked'] < 1.0


def test_max_panels_limits_the_drawing_not_the_measurement(configs, tmp_path):
    out = str(tmp_path / 'panels')
    every = browse.main([configs['aml'], '--out', str(tmp_path / 'all'), '-n', '6',
                         '--batch-size', '2'])
    some = browse.main([configs['aml'], '--out', out, '-n', '6', '--max-panels', '3',
                        '--batch-size', '2'])
    assert len(glob.glob(osp.join(out, '*.png'))) == 3
    assert some == pytest.approx(every)  # same samples, same seed: the same statistics
    browse.main([configs['aml'], '--out', str(tmp_path / 'none'), '-n', '4',
                 '--max-panels', '0'])
    assert not glob.glob(str(tmp_path / 'none' / '*.png'))
