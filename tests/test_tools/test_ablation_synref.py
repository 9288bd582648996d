# Copyright (c) mmamlris contributors. All rights reserved.
"""tools/analysis_tools/ablation_synref.py runs every variant and tabulates mean ± std."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from mmamlris.evaluation.ablation import EQUAL_SHARE, OBJECT_VARIANTS, data_note, panel_rows
from mmamlris.testing.tiny_configs import REPO_ROOT, make_tiny_synref, write_tiny_config
from mmamlris.utils import InputValueError
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
         '--work-dir', str(tmp_path / 'work'), '--out-md', str(md), '--ema', '0.5',
         '--robustness', 'fog', 'occlusion', '--robustness-severities', '2'],
        cwd=REPO_ROOT, env=dict(os.environ, OMP_NUM_THREADS='1'), capture_output=True,
        text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = md.read_text().splitlines()
    assert rows[2].startswith('| baseline (no AML) | 1 |')
    assert rows[3].startswith('| + random mask (same count) | 1 |')
    # 6 metric cells with mean ± std; then the paired differences and the 4 AML columns:
    # dashes for the baseline only
    assert len(re.findall(r'\d+\.\d\d ± \d+\.\d\d', rows[2])) == 6
    assert len(re.findall(r'-?\d+\.\d\d ± \d+\.\d\d', rows[3])) == 12
    assert re.search(r'\((0|1)/1\)', rows[3])  # wins out of 1 seed
    # --robustness: each run's checkpoint went through test_robustness.py (val split only)
    robust = rows[rows.index('') + 1:]
    assert robust[0].startswith('| variant | seeds | clean mIoU | mPC mIoU | rPC % mIoU | '
                                'occlusion mIoU |')
    assert robust[2].startswith('| baseline (no AML) | 1 |')
    assert robust[3].startswith('| + random mask (same count) | 1 |')
    for variant in ('baseline', 'random'):
        bench = json.loads((tmp_path / 'work' / f'{variant}_seed0' / 'robustness.json')
                           .read_text())
        assert bench['setting']['splits'] == ['val'] and 'testA_mIoU' not in bench['clean']
        assert set(bench['corrupted']) == {'fog', 'occlusion'}
    # --ema: both rows trained with weight averaging; the checkpoint holds both weight sets,
    # and test.py scored the averaged ones (state_dict) only: no --score-trained
    import torch
    for variant in ('baseline', 'random'):
        run = tmp_path / 'work' / f'{variant}_seed0'
        last = open(run / 'last_checkpoint').read().strip()
        checkpoint = torch.load(last, map_location='cpu', weights_only=False)
        assert 'ema_state_dict' in checkpoint
        assert any(not torch.equal(checkpoint['state_dict'][k],
                                   checkpoint['ema_state_dict'][f'module.{k}'])
                   for k in checkpoint['state_dict'])  # averaged != trained
        assert 'EMAHook' in (run / 'train.log').read_text()
        assert not (run / 'trained_per_expression.json').exists()


def test_variant_configs_swap_the_scorer_and_the_filter(tmp_path):
    # an AML config with explicit widths: the overrides keep them
    args = ablation.parse_args(['--work-dir', str(tmp_path), '--aml-config', osp.join(
        REPO_ROOT, 'configs/amlris/amlris_lite_mbv2_minilm_synref-160x160.py')])
    from mmengine.config import Config
    for variant, scorer, block_filter in (('oracle', 'OracleScorer', 'AlignmentAwareFilter'),
                                          ('random50', 'PatchMaxScorer', 'RandomBlockFilter'),
                                          ('official', 'ReleasedRelevanceScorer',
                                           'ReleasedBlockFilter')):
        path = ablation.variant_config(args, variant, str(tmp_path / f'{variant}.py'))
        aml = Config.fromfile(path).model.aml
        assert (aml.scorer.type, aml.filter.type) == (scorer, block_filter)
        assert aml.scorer.vis_channels == 320 and aml.filter.block_size == 32
    official = Config.fromfile(str(tmp_path / 'official.py')).model
    assert (official.stage1_loss_weight, official.stage2_text) == (0.5, 'clean')
    random = Config.fromfile(ablation.variant_config(args, 'random', str(tmp_path / 'r.py')))
    assert random.model.aml.filter.mode == 'random' and random.model.aml.filter.tau == 0.4


def test_scorer_options_reach_only_their_variant(tmp_path):
    from mmengine.config import Config
    args = ablation.parse_args(['--work-dir', str(tmp_path), '--scorer-options',
                                'learned.aux_feat_indices=[-2]', 'learned.aux_channels=[128]'])
    learned = Config.fromfile(ablation.variant_config(args, 'learned', str(tmp_path / 'l.py')))
    assert learned.model.aml.scorer.type == 'LearnedScorer'
    assert learned.model.aml.scorer.aux_feat_indices == [-2]
    assert learned.model.aml.scorer.aux_channels == [128]
    oracle = Config.fromfile(ablation.variant_config(args, 'oracle', str(tmp_path / 'o.py')))
    assert 'aux_feat_indices' not in oracle.model.aml.scorer
    for bad in ('learned=1', 'nosuch.x=1', 'learned.x=not a literal'):
        with pytest.raises(SystemExit, match='--scorer-options'):
            ablation.parse_args(['--scorer-options', bad])


def test_half_scale_variant_scores_the_stride16_level_with_its_width(tmp_path):
    from mmengine.config import Config

    from mmamlris.registry import MODELS
    args = ablation.parse_args(['--work-dir', str(tmp_path), '--aml-config', osp.join(
        REPO_ROOT, 'configs/amlris/amlris_lite_mbv2_minilm_synref-160x160.py')])
    cfg = Config.fromfile(ablation.variant_config(args, 'aml_half', str(tmp_path / 'h.py')))
    assert (cfg.model.stage1_scale, cfg.model.aml.scorer.in_index) == (0.5, -2)
    # the decode head's width of the stride-16 level (the config's 320 is the stride-32 one)
    assert cfg.model.aml.scorer.vis_channels == 96
    from mmamlris.utils import offline_model_cfg
    model = MODELS.build(offline_model_cfg(cfg.model)[0])  # random init where files lack
    assert model._stage1_levels() == [-2]


def test_oracle_variant_scores_the_filters_blocks(tmp_path):
    from mmengine.config import Config
    args = ablation.parse_args(['--work-dir', str(tmp_path), '--aml-config', osp.join(
        REPO_ROOT, 'configs/amlris/amlris_lite_mbv2_minilm_synref-160x160.py')])
    cfg = Config.fromfile(ablation.variant_config(args, 'oracle', str(tmp_path / 'o.py')))
    assert cfg.model.aml.scorer.block_size == cfg.model.aml.filter.block_size == 32


def test_train_stats_keep_the_last_record_of_an_iteration_logged_twice(tmp_path):
    import json
    for stamp, rows in (('20260101_000000', [(50, 0.1), (100, 0.2), (150, 0.9)]),
                        ('20260101_010000', [(150, 0.3), (200, 0.4)])):  # resumed at 100
        os.makedirs(tmp_path / stamp / 'vis_data')
        with open(tmp_path / stamp / 'vis_data' / 'scalars.json', 'w') as f:
            for it, value in rows:
                f.write(json.dumps(dict(iter=it, aml_mask_ratio=value)) + '\n')
    stats = ablation.train_stats(str(tmp_path))
    assert stats['aml_mask_ratio'] == pytest.approx((0.3 + 0.4) / 2)  # iterations 150, 200


def _finished_run(work_dir, variant, seed, ious):
    """A run folder as a finished call leaves it: per-expression (I, U) records only."""
    run_dir = work_dir / f'{variant}_seed{seed}'
    run_dir.mkdir(parents=True)
    records = [dict(split='val', i=i, u=10) for i in ious]
    (run_dir / 'per_expression.json').write_text(json.dumps(records))


def test_report_only_tabulates_finished_runs_against_the_reference(tmp_path, capsys):
    work = tmp_path / 'work'
    _finished_run(work, 'aml', 0, [5, 5])      # val mIoU 50
    _finished_run(work, 'aml_half', 0, [6, 6])  # 60: +10 against aml
    _finished_run(work, 'aml', 1, [4, 4])
    # aml_half seed 1 is unfinished (a folder with a log, no results): left out, not trained
    (work / 'aml_half_seed1').mkdir()
    ablation.main(['--variants', 'aml', 'aml_half', '--seeds', '0', '1', '--reference', 'aml',
                   '--report-only', '--work-dir', str(work)])
    out, err = capsys.readouterr()
    assert 'left out: aml_half_seed1' in err
    assert not (work / 'aml_half_seed1' / 'train.log').exists()
    rows = out.strip().splitlines()
    assert 'Δ val mIoU vs aml (wins)' in rows[0]
    assert rows[2].startswith('| + AML, PatchMax (paper) | 2 |') and '| — | — |' in rows[2]
    assert rows[3].startswith('| + AML, PatchMax, stage 1 at half scale | 1 |')
    assert '10.00 ± 0.00 (1/1)' in rows[3]


def test_reference_must_be_a_row_that_is_run(tmp_path):
    with pytest.raises(SystemExit):
        ablation.parse_args(['--variants', 'aml', '--reference', 'aml_half'])
    with pytest.raises(SystemExit):
        ablation.parse_args(['--report-only', '--rerun'])
    with pytest.raises(SystemExit):
        ablation.parse_args(['--score-trained'])  # needs --ema
    # the baseline may be absent: its columns are dashes, as before
    assert ablation.parse_args(['--variants', 'aml']).reference == 'baseline'


def test_records_carry_finished_runs_after_their_folders_are_gone(tmp_path, capsys):
    import shutil
    work, records = tmp_path / 'work', tmp_path / 'results' / 'ablation.jsonl'
    _finished_run(work, 'aml', 0, [5, 5])
    call = ['--variants', 'aml', '--seeds', '0', '--report-only', '--work-dir', str(work),
            '--records', str(records)]
    ablation.main(call)
    first = capsys.readouterr().out
    [line] = records.read_text().splitlines()
    record = json.loads(line)
    assert (record['variant'], record['seed'], record['val_mIoU']) == ('aml', 0, 50.0)
    assert record['setting']['config'] == \
        'configs/amlris/amlris_lite_mbv2_minilm_synref-160x160.py'
    assert record['source'].startswith('measured: ')
    shutil.rmtree(work)  # a new machine: only the committed records are left
    ablation.main(call)
    out, err = capsys.readouterr()
    assert out == first and 'left out' not in err
    assert '50.00 ± 0.00' in out.splitlines()[2]


def test_an_edit_of_the_records_made_during_a_run_is_kept(tmp_path, capsys, monkeypatch):
    # a call reads the records when it starts and writes them after each run: a note added to
    # the file meanwhile (by hand, or by another call) must survive the next write
    work, records = tmp_path / 'work', tmp_path / 'ablation.jsonl'
    _finished_run(work, 'aml', 0, [5, 5])
    _finished_run(work, 'aml', 1, [4, 4])
    one_run = ablation.one_run

    def editing_run(args, variant, seed):
        if seed == 1:  # while seed 1 "trains", seed 0's record gets a note
            saved = ablation.load_records(str(records))
            saved[('aml', 0)]['note'] = 'added by hand'
            ablation.save_records(str(records), saved)
        return one_run(args, variant, seed)

    monkeypatch.setattr(ablation, 'one_run', editing_run)
    ablation.main(['--variants', 'aml', '--seeds', '0', '1', '--report-only', '--work-dir',
                   str(work), '--records', str(records)])
    capsys.readouterr()
    saved = ablation.load_records(str(records))
    assert saved[('aml', 0)]['note'] == 'added by hand'
    assert saved[('aml', 1)]['val_mIoU'] == 40.0


def test_a_record_of_another_setting_stops_the_call(tmp_path):
    records = tmp_path / 'ablation.jsonl'
    records.write_text(json.dumps(dict(variant='aml', seed=0, val_mIoU=50.0, setting=dict(
        config='configs/other.py', scorer_options={}, cfg_options=[]))) + '\n')
    with pytest.raises(SystemExit, match=r'ablation\.jsonl: aml seed 0 was recorded with'):
        ablation.main(['--variants', 'aml', '--seeds', '0', '--report-only',
                       '--work-dir', str(tmp_path / 'work'), '--records', str(records)])


def test_the_committed_records_fit_the_documented_command():
    # the call of configs/amlris/README.md must reuse every committed run, not retrain it
    path = osp.join(REPO_ROOT, 'configs/amlris/results/ablation_synref_mbv2.jsonl')
    args = ablation.parse_args([
        '--baseline-config', 'configs/lite/lite_mbv2_minilm_synref-160x160.py',
        '--aml-config', 'configs/amlris/amlris_lite_mbv2_minilm_synref-160x160.py',
        '--scorer-options', 'learned.aux_feat_indices=[-2]', 'learned.aux_channels=[96]',
        '--records', path])
    records = ablation.load_records(path)
    assert len(records) >= 17
    for (variant, seed), record in records.items():
        assert variant in ablation.VARIANTS and record['source']
        assert {'val_mIoU', 'val_oIoU'} <= set(record)
        assert ablation.recorded_run(args, records, variant, seed) is record


def _documented_calls(records_name):
    """The ``ablation_synref.py`` calls of configs/amlris/README.md that write ``records_name``,
    as argument lists (continuation lines joined)."""
    import shlex
    with open(osp.join(REPO_ROOT, 'configs/amlris/README.md')) as f:
        text = f.read().replace('\\\n', ' ')
    calls = [shlex.split(line)[2:] for line in text.splitlines()
             if line.startswith('python tools/analysis_tools/ablation_synref.py')]
    return [argv for argv in calls
            if '--records' in argv and argv[argv.index('--records') + 1] == records_name]


@pytest.mark.parametrize('name, n_calls', [
    ('ablation_synref_mbv2_3000it_ema_eval6k.jsonl', 2),  # AMD EPYC: main and shortcut calls
    ('ablation_synref_mbv2_3000it_ema_eval6k_xeon.jsonl', 1)])  # Intel Xeon: the main call
def test_the_3000_iteration_records_fit_the_documented_commands(name, n_calls):
    """Every run of the 3,000-iteration campaign is reused by a call the README documents: one
    with its variant and its setting, trained on the machine its file is for (one machine per
    records file), and where that call benchmarks and the run has robustness scores, of its
    robustness setting (a run without them gets them from its folder, or is listed)."""
    name = f'configs/amlris/results/{name}'
    calls = [ablation.parse_args(argv) for argv in _documented_calls(name)]
    assert len(calls) == n_calls
    records = ablation.load_records(osp.join(REPO_ROOT, name))
    assert {variant for variant, _ in records} >= {'baseline'}
    assert len({r['machine'] for r in records.values()}) == 1
    for pooled in {p for args in calls for p in args.pool_records}:
        assert osp.isfile(osp.join(REPO_ROOT, pooled)), pooled
    for (variant, seed), record in records.items():
        users = [args for args in calls if variant in args.variants]
        assert users, f'{variant} is in no documented call'
        for args in users:
            assert ablation.recorded_run(args, records, variant, seed) is record
            if args.robustness is not None and 'robustness' in record:
                assert record['robustness'] == ablation.robustness_setting(args), \
                    f'{variant} seed {seed}'


@pytest.mark.parametrize('variant', [v for v in ablation.VARIANTS if v != 'baseline'])
def test_every_variant_config_of_the_records_builds(variant, tmp_path):
    """The committed records' settings (the quick-start AML config with each variant) build."""
    from mmengine.config import Config

    from mmamlris.registry import MODELS
    from mmamlris.utils import offline_model_cfg
    args = ablation.parse_args([
        '--work-dir', str(tmp_path), '--aml-config',
        osp.join(REPO_ROOT, 'configs/amlris/amlris_lite_mbv2_minilm_synref-160x160.py'),
        '--scorer-options', 'learned.aux_feat_indices=[-2]', 'learned.aux_channels=[96]'])
    cfg = Config.fromfile(ablation.variant_config(args, variant, str(tmp_path / 'v.py')))
    model = MODELS.build(offline_model_cfg(cfg.model)[0])
    assert model.with_aml


def test_loss_only_variant_keeps_the_paper_filter_and_masks_the_loss(tmp_path):
    from mmengine.config import Config
    args = ablation.parse_args(['--work-dir', str(tmp_path)])
    cfg = Config.fromfile(ablation.variant_config(args, 'aml_loss', str(tmp_path / 'l.py')))
    aml = Config.fromfile(ablation.variant_config(args, 'aml', str(tmp_path / 'a.py'))).model.aml
    assert cfg.model.aml.mask_target == 'loss'
    assert (cfg.model.aml.scorer, cfg.model.aml.filter) == (aml.scorer, aml.filter)


def test_ema_and_eval_data_root_reach_every_row_and_the_setting(tmp_path):
    from mmengine.config import Config
    plain = ablation.parse_args(['--work-dir', str(tmp_path)])
    assert ablation.variant_config(plain, 'baseline', 'unused.py') == plain.baseline_config
    assert 'ema' not in ablation.setting(plain, 'aml')  # records of earlier runs still match
    args = ablation.parse_args(['--work-dir', str(tmp_path), '--ema', '0.002',
                                '--eval-data-root', 'data/synref_eval'])
    for variant in ('baseline', 'aml'):
        cfg = Config.fromfile(ablation.variant_config(args, variant, str(tmp_path / 'v.py')))
        assert [h.type for h in cfg.custom_hooks] == ['EMAHook']
        assert cfg.custom_hooks[0].momentum == 0.002
        assert cfg.val_dataloader.dataset.data_root == 'data/synref_eval'
        assert {d.data_root for d in cfg.test_dataloader.dataset.datasets} == {
            'data/synref_eval'}
        assert cfg.train_dataloader.dataset.data_root == 'data/synref'
        assert ablation.setting(args, variant)['ema'] == 0.002
        assert ablation.setting(args, variant)['eval_data_root'] == 'data/synref_eval'


def test_iters_lengthens_the_whole_schedule_and_ema_begin_reaches_the_hook(tmp_path):
    from mmengine.config import Config
    plain = ablation.parse_args(['--work-dir', str(tmp_path)])
    assert {'iters', 'ema_begin'}.isdisjoint(ablation.setting(plain, 'aml'))
    args = ablation.parse_args(['--work-dir', str(tmp_path), '--iters', '3000', '--ema',
                                '0.01', '--ema-begin', '2250'])
    for variant in ('baseline', 'aml'):
        cfg = Config.fromfile(ablation.variant_config(args, variant, str(tmp_path / 'v.py')))
        assert cfg.train_cfg.max_iters == 3000 and cfg.train_cfg.val_interval == 3000
        warmup, poly = cfg.param_scheduler
        assert warmup.end == 100  # the warm-up keeps its length ...
        assert poly.type == 'PolyLR' and poly.end == 3000  # ... the decay ends with training
        assert cfg.custom_hooks[0].begin_iter == 2250
        assert ablation.setting(args, variant)['iters'] == 3000
        assert ablation.setting(args, variant)['ema_begin'] == 2250
    with pytest.raises(SystemExit):
        ablation.parse_args(['--ema-begin', '10'])  # no --ema
    with pytest.raises(SystemExit):
        ablation.parse_args(['--iters', '100', '--ema', '0.1', '--ema-begin', '100'])
    with pytest.raises(SystemExit):
        ablation.parse_args(['--ema', '0.1', '--ema-begin', '-1'])  # checked without --iters too


def test_oracle_rows_hide_equal_shares_and_get_every_object(tmp_path):
    """The three equal-share oracle rows build, and one training step of the background-only
    row runs on SynRef with the objects of each image reaching the scorer."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper

    from mmamlris.engine.hooks import AMLStepRecorder
    from mmamlris.registry import DATASETS, MODELS
    data_root = make_tiny_synref(str(tmp_path / 'synref'), num_images=6)
    aml = write_tiny_config('amlris/amlris_lite_minilm_synref-160x160.py',
                            str(tmp_path / 'aml.py'), data_root)
    args = ablation.parse_args(['--work-dir', str(tmp_path), '--aml-config', aml])
    configs = {v: Config.fromfile(ablation.variant_config(args, v, str(tmp_path / f'{v}.py')))
               for v in ('oracle_eq', 'oracle_background', 'oracle_distractors')}
    for variant, cfg in configs.items():
        assert cfg.model.aml.scorer.hide == variant.split('_')[1].replace('eq', 'context')
        assert cfg.model.aml.filter.count == EQUAL_SHARE
        types = [step.type for step in cfg.train_dataloader.dataset.pipeline]
        needs = variant in OBJECT_VARIANTS
        assert ('LoadObjectsMask' in types) == needs
        assert cfg.train_dataloader.dataset.get('with_objects', False) == needs
    cfg = configs['oracle_background']
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    import torch
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    batch = pseudo_collate([dataset[0], dataset[1]])
    with AMLStepRecorder(model) as recorder:
        log = model.train_step(batch, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0)))
    assert float(log['aml_object_masked']) == 0.0  # never the referred object
    block_mask = recorder.record['block_mask'][:, 0]
    assert block_mask.any()  # background blocks were hidden
    for sample, mask in zip(batch['data_samples'], block_mask):
        objects = sample.gt_objects.data[0].bool()
        assert not (mask[:objects.shape[0], :objects.shape[1]] & objects).any()


def _robustness_file(work_dir, variant, seed, clean, fog, occlusion):
    """A finished ``test_robustness.py --out`` (fog and occlusion at severity 1)."""
    metrics = lambda v: dict(mIoU=v, oIoU=v - 5)  # noqa: E731
    (work_dir / f'{variant}_seed{seed}' / 'robustness.json').write_text(json.dumps(dict(
        setting={}, clean=metrics(clean), corrupted=dict(fog={'1': metrics(fog)},
                                                         occlusion={'1': metrics(occlusion)}))))


def test_robustness_scores_join_the_records_and_get_a_paired_table(tmp_path, capsys):
    work, records = tmp_path / 'work', tmp_path / 'ablation.jsonl'
    for seed, (base, aml) in enumerate([((60, 40, 50), (61, 43, 49)),
                                        ((58, 38, 48), (57, 40, 49))]):
        _finished_run(work, 'baseline', seed, [6, 6])
        _finished_run(work, 'aml', seed, [6, 6])
        _robustness_file(work, 'baseline', seed, *base)
        _robustness_file(work, 'aml', seed, *aml)
    _finished_run(work, 'aml', 2, [5, 5])  # no benchmark, no checkpoint
    call = ['--variants', 'baseline', 'aml', '--seeds', '0', '1', '2', '--report-only',
            '--work-dir', str(work), '--records', str(records), '--robustness', 'fog',
            'occlusion', '--robustness-severities', '1']
    ablation.main(call)
    out, err = capsys.readouterr()
    assert 'no robustness scores' in err and 'aml_seed2' in err
    rows = out.split('\n\n')[1].splitlines()
    assert rows[0] == ('| variant | seeds | clean mIoU | mPC mIoU | rPC % mIoU | occlusion mIoU '
                       '| occlusion % of clean mIoU | Δ mPC (wins) | MDE mPC | '
                       'Δ occlusion (wins) | MDE occlusion |')
    assert rows[2].startswith('| baseline (no AML) | 2 | 59.00 ± 1.41 | 39.00 ± 1.41 |')
    # aml - baseline: mPC +3, +2; occlusion -1, +1; seed 2 has no scores
    assert rows[3].startswith('| + AML, PatchMax (paper) | 2 of 3 | 59.00 ± 2.83 | 41.50 ± 2.12')
    assert '| 2.50 ± 0.71 (2/2) | — |' in rows[3]  # no MDE from two pairs
    assert '| 0.00 ± 1.41 (1/2) | — |' in rows[3]
    saved = ablation.load_records(str(records))
    assert saved[('aml', 0)]['mPC_mIoU'] == 43 and saved[('aml', 0)]['mPC_oIoU'] == 38
    assert saved[('aml', 0)]['robustness'] == dict(
        corruptions=['fog', 'occlusion'], severities=[1], splits=['val'], data_root=None,
        overlap=None)
    assert 'mPC_mIoU' not in saved[('aml', 2)]
    # each corruption on its own (mPC can average opposite effects away), paired like the rest
    assert saved[('aml', 0)]['corruption_mIoU'] == dict(fog=43, occlusion=49)
    by_corruption = next(p for p in out.split('\n\n') if p.startswith('| corruption mIoU'))
    assert by_corruption.splitlines()[0].endswith('| runs | fog | occlusion |')
    assert by_corruption.splitlines()[3] == (
        '| + AML, PatchMax (paper) | 2 | 2.50 ± 0.71 (2/2) | 0.00 ± 1.41 (1/2) |')
    # a run recorded before them gets them from its folder's benchmark
    stripped = {key: {k: v for k, v in r.items() if not k.startswith('corruption_')}
                for key, r in saved.items()}
    ablation.save_records(str(records), stripped)
    ablation.main(call)
    capsys.readouterr()
    assert ablation.load_records(str(records)) == saved
    # the chart gets a second panel (mPC, occlusion) once robustness is measured
    from PIL import Image
    ablation.main(call + ['--out-png', str(tmp_path / 'robust.png')])
    capsys.readouterr()
    clean_only = {v: [{k: r[k] for k in ('seed', 'val_mIoU', 'val_oIoU')} for r in runs]
                  for v, runs in (('baseline', [saved[('baseline', 0)]]),
                                  ('aml', [saved[('aml', 0)]]))}
    ablation.chart(clean_only, str(tmp_path / 'clean.png'))
    clean_width = Image.open(tmp_path / 'clean.png').size[0]  # scores and the Δ panel
    assert 2 * Image.open(tmp_path / 'robust.png').size[0] == 3 * clean_width
    # the Δ panel is there only where a row has a pair with the reference
    unpaired = dict(clean_only, aml=[dict(clean_only['aml'][0], seed=7)])
    ablation.chart(unpaired, str(tmp_path / 'unpaired.png'))
    assert 2 * Image.open(tmp_path / 'unpaired.png').size[0] == clean_width
    # a row measured clean only stays out of the robustness panel (no zero bar)
    mixed = dict(clean_only, aml=[saved[('aml', 0)]])
    assert panel_rows(mixed, ['mPC_mIoU', 'occlusion_mIoU']) == ['aml']
    assert panel_rows(mixed, ['val_mIoU', 'val_oIoU']) == ['baseline', 'aml']
    # another benchmark setting replaces the scores: none of the old ones is left behind
    ablation.main(call[:-4] + ['fog', '--robustness-severities', '1'])
    capsys.readouterr()
    saved = ablation.load_records(str(records))
    assert saved[('aml', 0)]['robustness']['corruptions'] == ['fog']
    assert 'occlusion_mIoU' not in saved[('aml', 0)] and saved[('aml', 0)]['mPC_mIoU'] == 43
    assert saved[('aml', 0)]['corruption_mIoU'] == dict(fog=43)
    # an incomplete benchmark (a severity missing) gives no scores
    ablation.main(call[:-1] + ['1', '2'])
    assert 'aml_seed0' in capsys.readouterr().err


def test_robustness_arguments_are_checked():
    assert ablation.parse_args(['--robustness']).robustness[-1] == 'occlusion'  # all 16
    assert len(ablation.parse_args(['--robustness']).robustness) == 16
    with pytest.raises(SystemExit):
        ablation.parse_args(['--robustness', 'rain'])
    with pytest.raises(SystemExit):
        ablation.parse_args(['--robustness', '--robustness-severities', '6'])
    with pytest.raises(SystemExit):
        ablation.parse_args(['--robustness-overlap', 'data/x'])  # needs --robustness


def test_other_machines_join_the_report_through_pool_records(tmp_path, capsys, monkeypatch):
    """A records file of this machine and one of another: the table pools both, pairs within
    each, and a training call refuses to mix another machine's runs into its --records."""
    here = 'Mine CPU, avx512f, 2 threads, torch 2'
    monkeypatch.setattr(ablation, 'machine_name', lambda: here)
    setting = ablation.setting(ablation.parse_args([]), 'aml')
    base_setting = ablation.setting(ablation.parse_args([]), 'baseline')

    def write(path, machine, rows):
        path.write_text(''.join(json.dumps(dict(
            variant=v, seed=s, val_mIoU=m, val_oIoU=m, machine=machine,
            setting=setting if v == 'aml' else base_setting)) + '\n' for v, s, m in rows))

    mine, theirs = tmp_path / 'mine.jsonl', tmp_path / 'theirs.jsonl'
    write(mine, here, [('baseline', 0, 50.0), ('aml', 0, 52.0)])        # +2
    write(theirs, 'Other CPU, avx2', [('baseline', 0, 60.0), ('aml', 0, 56.0),   # -4
                                      ('baseline', 1, 61.0), ('aml', 1, 62.0)])  # +1
    call = ['--variants', 'baseline', 'aml', '--seeds', '0', '1', '--work-dir',
            str(tmp_path / 'work'), '--records', str(mine)]
    ablation.main(call + ['--report-only', '--pool-records', str(theirs)])
    out, err = capsys.readouterr()
    rows = out.splitlines()
    assert rows[2].startswith('| baseline (no AML) | 3 (1 Mine, 2 Other) | 57.00 ± 6.08 |')
    assert rows[3].startswith('| + AML, PatchMax (paper) | 3 (1 Mine, 2 Other) |')
    assert '| -0.33 ± 3.21 (2/3) |' in rows[3]  # +2, -4, +1
    assert 'Runs of 2 machines' in out and '| seed 0, Mine | seed 0, Other |' in out
    assert 'rows of different machines compare by their paired Δ only' in out
    assert 'left out: baseline_seed1 aml_seed1' in err  # not in this machine's file
    # the pooled file is read only, and training into another machine's file is refused
    before = theirs.read_text()
    with pytest.raises(InputValueError, match=r'theirs\.jsonl holds runs trained on Other CPU, '
                       r'avx2, and this machine is .*--pool-records'):
        ablation.main(call[:-1] + [str(theirs)])
    assert theirs.read_text() == before
    # a pooled record of another setting is named with its file
    write(theirs, 'Other CPU, avx2', [('aml', 0, 56.0)])
    theirs.write_text(theirs.read_text().replace('"iters"', '"other"').replace(
        '"config": "', '"config": "x/'))
    with pytest.raises(SystemExit, match=r'--pool-records .*theirs\.jsonl: aml seed 0 was '
                       'recorded with the setting'):
        ablation.main(call + ['--report-only', '--pool-records', str(theirs)])


def test_trained_weights_are_scored_only_with_score_trained(tmp_path, monkeypatch):
    """--ema alone tests the averaged weights once; the trained weights need --score-trained:
    then test.py scores them too, from the same checkpoint, without the EMA hook."""
    import torch
    calls = []
    trained, averaged = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 1.5])

    def fake_run(cmd, log_file):  # training leaves an EMAHook checkpoint, testing its records
        calls.append(cmd)
        work_dir = osp.dirname(log_file)
        if cmd[0] == 'tools/train.py':
            checkpoint = osp.join(work_dir, 'iter_1.pth')
            torch.save(dict(state_dict=dict(w=averaged), meta=dict(iter=1),
                            ema_state_dict={'steps': torch.tensor(1), 'module.w': trained}),
                       checkpoint)
            with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
                f.write(checkpoint)
        else:
            weights = torch.load(cmd[2], map_location='cpu', weights_only=False)['state_dict']
            out = cmd[cmd.index('--out') + 1]
            with open(out, 'w') as f:  # an expression right for the trained weights only
                json.dump([dict(split='val', i=int(torch.equal(weights['w'], trained)), u=1)],
                          f)

    monkeypatch.setattr(ablation, 'run', fake_run)
    monkeypatch.setattr(ablation, 'variant_config', lambda args, variant, path: path)
    args = ablation.parse_args(['--work-dir', str(tmp_path), '--ema', '0.01'])
    result = ablation.one_run(args, 'baseline', 0)
    assert [cmd[0] for cmd in calls] == ['tools/train.py', 'tools/test.py']
    assert result['val_mIoU'] == 0.0  # the averaged weights
    assert not any(key.startswith('trained_') for key in result)

    calls.clear()
    scored = ablation.parse_args(['--work-dir', str(tmp_path / 'both'), '--ema', '0.01',
                                  '--score-trained'])
    result = ablation.one_run(scored, 'baseline', 0)
    assert [cmd[0] for cmd in calls] == ['tools/train.py', 'tools/test.py', 'tools/test.py']
    assert result['val_mIoU'] == 0.0 and result['trained_val_mIoU'] == 100.0
    run_dir = osp.join(str(tmp_path), 'both', 'baseline_seed0')
    assert calls[2][2] == osp.join(run_dir, 'trained_weights.pth')
    # weights only: the EMA hook would swap them for the averaged ones; nothing to resume
    assert {'custom_hooks=[]', 'resume=False'} <= set(calls[2])
    assert calls[2][calls[2].index('--out') + 1] == osp.join(run_dir, ablation.RAW_OUT)

    # --rerun trains the weights anew: scores of the weights trained before are not theirs.
    for name in (ablation.RAW_OUT, ablation.ROBUSTNESS_OUT):
        with open(osp.join(str(tmp_path), 'baseline_seed0', name), 'w') as f:
            json.dump([dict(split='val', i=2, u=2)], f)
    rerun = ablation.parse_args(['--work-dir', str(tmp_path), '--ema', '0.01', '--rerun'])
    result = ablation.one_run(rerun, 'baseline', 0)
    assert not any(key.startswith('trained_') for key in result)
    assert not osp.exists(osp.join(str(tmp_path), 'baseline_seed0', ablation.ROBUSTNESS_OUT))


def test_new_records_carry_their_data_fingerprints_and_differences_are_named(tmp_path):
    data = make_tiny_synref(str(tmp_path / 'synref'), num_images=4)
    args = ablation.parse_args(['--eval-data-root', data, '--robustness', 'fog',
                                '--robustness-overlap', str(tmp_path / 'not_generated')])
    from mmamlris.utils import tree_fingerprint
    prints = ablation.data_fingerprints(args, 'aml')
    # the eval set (also the robustness set) is fingerprinted; a folder not here is left out
    assert prints[data] == tree_fingerprint(data)
    assert str(tmp_path / 'not_generated') not in prints
    same = dict(data={'data/synref': 'aaaa'})
    results = {'baseline': [dict(seed=0, machine='A', **same), dict(seed=0, machine='B', **same)],
               'aml': [dict(seed=0, machine='A', **same),
                       dict(seed=0, machine='B', data={'data/synref': 'bbbb'}), dict(seed=1)]}
    assert data_note(results) == (
        'The runs did not all read the same files (data fingerprints differ; generate the data '
        'again, or compare only runs of one fingerprint): data/synref: aaaa (A / B), bbbb (B).')
    results['aml'][1]['data'] = same['data']
    assert data_note(results) == ''


def test_runs_on_a_synref_eval_set_record_their_score_per_kind_of_expression(tmp_path, capsys):
    """A finished run folder (here: recorded before the breakdown) gains its val mIoU per kind
    of expression in the records, and the report a table of the paired differences."""
    from mmamlris.datasets.refer_io import load_refs
    from mmamlris.datasets.synref import expression_form
    data = make_tiny_synref(str(tmp_path / 'synref'), num_images=30)
    val = [(s['sent_id'], s['sent']) for r in load_refs(f'{data}/refs(unc).p')
           if r['split'] == 'val' for s in r['sentences']]
    work, records = tmp_path / 'work', tmp_path / 'ablation.jsonl'
    for variant, hit in (('baseline', lambda s: 10), ('aml', lambda s: 10 * (
            'shape' in expression_form(s)[1]))):  # aml misses what names no shape
        (work / f'{variant}_seed0').mkdir(parents=True)
        (work / f'{variant}_seed0' / 'per_expression.json').write_text(json.dumps(
            [dict(split='val', sent_id=k, ref_id=0, i=hit(s), u=10) for k, s in val]))
    call = ['--variants', 'baseline', 'aml', '--seeds', '0', '--report-only', '--work-dir',
            str(work), '--eval-data-root', data, '--records', str(records)]
    ablation.main(call)
    out = capsys.readouterr().out
    saved = ablation.load_records(str(records))
    assert saved[('baseline', 0)][ablation.BY_GROUP]['names shape'] == 100.0
    by_group = saved[('aml', 0)][ablation.BY_GROUP]
    assert (by_group['names shape'], by_group['names no shape']) == (100.0, 0.0)
    table = out[out.index('| val mIoU by group'):].splitlines()
    head = table[0].split(' | ')
    row = dict(zip(head, table[3].split(' | ')))
    assert row['names no shape'] == '-100.00 ± 0.00 (0/1)' and \
        row['names shape'] == '0.00 ± 0.00 (0/1)'
    # records without the breakdown and without a run folder stay as they are
    for run in ('baseline_seed0', 'aml_seed0'):
        (work / run / 'per_expression.json').unlink()
        (work / run).rmdir()
    ablation.main(call)
    assert ablation.load_records(str(records)) == saved
