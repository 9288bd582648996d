# Copyright (c) mmamlris contributors. All rights reserved.
"""The SynRef ablation's records, paired statistics and report (mmamlris.evaluation.ablation)."""
import json
import os.path as osp
import re

import pytest

from mmamlris.evaluation import ablation
from mmamlris.testing.tiny_configs import REPO_ROOT
from mmamlris.utils import InputValueError


def test_paired_differences_and_wins():
    baseline = [dict(seed=0, val_mIoU=40.0), dict(seed=1, val_mIoU=42.0)]
    runs = [dict(seed=0, val_mIoU=41.0), dict(seed=1, val_mIoU=41.0), dict(seed=2, val_mIoU=9.0)]
    # seed 2 has no baseline: left out; differences +1 and -1
    assert ablation.paired_cell(runs, baseline, 'val_mIoU') == '0.00 ± 1.41 (1/2)'


def test_seed_table_has_one_column_per_seed_and_dashes_for_missing_runs():
    results = {'baseline': [dict(seed=0, val_mIoU=40.0), dict(seed=2, val_mIoU=42.5)],
               'aml': [dict(seed=1, val_mIoU=41.25)]}
    rows = ablation.seed_table(results).splitlines()
    assert rows[0] == '| val mIoU | seed 0 | seed 1 | seed 2 |'
    assert rows[2] == '| baseline (no AML) | 40.00 | — | 42.50 |'
    assert rows[3] == '| + AML, PatchMax (paper) | — | 41.25 | — |'


def test_a_broken_records_file_is_named_with_its_line(tmp_path):
    records = tmp_path / 'ablation.jsonl'
    records.write_text(json.dumps(dict(variant='aml', seed=0)) + '\n{"variant": "aml"\n')
    with pytest.raises(InputValueError, match=r'ablation\.jsonl, line 2: not a run record'):
        ablation.load_records(str(records))
    records.write_text(2 * (json.dumps(dict(variant='aml', seed=0)) + '\n'))
    with pytest.raises(InputValueError, match='line 2: aml seed 0 is recorded twice'):
        ablation.load_records(str(records))


def test_cells_averaged_over_fewer_seeds_than_the_row_say_so():
    # seed 1 is a record with val only (its test splits were not kept)
    results = {'aml': [dict(seed=0, val_mIoU=50.0, testA_mIoU=40.0), dict(seed=1, val_mIoU=52.0)]}
    row = ablation.table(results).splitlines()[2]
    assert '| 51.00 ± 1.41 |' in row  # val mIoU over both seeds
    assert '| 40.00 ± 0.00 (n=1) |' in row  # testA mIoU over one


def test_minimal_detectable_effect_is_two_standard_errors():
    assert ablation.mde([1.0, -1.0, 3.0, 1.0]) == pytest.approx(2 * 1.632993 / 2, rel=1e-6)
    assert ablation.mde([2.0]) is None  # no spread from one seed
    # nor an MDE from two: two close pairs would claim a sharp instrument by chance
    assert ablation.mde([-0.74, 0.0]) is None
    assert ablation.mde([-0.74, 0.0, 3.08]) is not None
    baseline = [dict(seed=s, val_mIoU=50.0) for s in range(3)]
    runs = [dict(seed=0, val_mIoU=51.0), dict(seed=1, val_mIoU=53.0),
            dict(seed=2, val_mIoU=52.0)]
    row = ablation.table(dict(baseline=baseline, aml=runs)).splitlines()[3]
    assert '| 2.00 ± 1.00 (3/3) |' in row and '| 1.15 | 4 |' in row  # 2 * 1 / sqrt(3)


def test_runs_made_on_two_machines_give_the_spread_of_a_change_that_does_nothing():
    def run(seed, machine, value):
        return dict(seed=seed, machine=machine, val_mIoU=value)

    results = {
        # seeds 0 and 1 on both machines; seed 2 on one only; a record without a machine
        'baseline': [run(0, 'B cpu', 52.0), run(0, 'A cpu', 50.0), run(1, 'A cpu', 50.0),
                     run(1, 'B cpu', 49.0), run(2, 'A cpu', 60.0), dict(seed=0, val_mIoU=1.0)],
        'aml': [run(0, 'A cpu', 40.0), run(0, 'B cpu', 43.0)],
        'random': [run(0, 'A cpu', 40.0)]}
    # each minus the machine whose name sorts first ('A cpu'), whatever the records' order
    assert ablation.machine_diffs(results['baseline'], 'val_mIoU') == [2.0, -1.0]
    assert ablation.machine_diffs(results['aml'], 'val_mIoU') == [3.0]
    assert ablation.machine_diffs(results['random'], 'val_mIoU') == []
    note = ablation.rounding_note(results)
    # +2, -1, +3: mean 1.33, std 2.08, so 18 seeds for an MDE of 1 ((2 * 2.08)^2 = 17.3)
    assert '(3 pairs in 2 rows;' in note
    assert 'val mIoU differs by 1.33 ± 2.08 (machines in name order, the later minus the ' \
        'first; largest +3.00)' in note
    assert '2 · 2.08 / √n (18 seeds for an MDE of 1 at this spread).' in note
    assert note in ablation.report(results, 'baseline').split('\n\n')
    # one pair: no spread to speak of, no sentence
    assert ablation.rounding_note(dict(aml=results['aml'])) == ''


def test_the_chart_bands_the_spread_of_runs_made_twice(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figures = []
    close = plt.close
    monkeypatch.setattr(plt, 'close', lambda fig: figures.append(fig) or close(fig))

    def run(seed, machine, value):
        return dict(seed=seed, machine=machine, val_mIoU=value, val_oIoU=value)

    # runs made twice: +2, -1, +3 (std 2.08)
    results = {'baseline': [run(0, 'A', 50.0), run(0, 'B', 52.0), run(1, 'A', 50.0),
                            run(1, 'B', 49.0)],
               'aml': [run(0, 'A', 40.0), run(0, 'B', 43.0)]}
    ablation.chart(results, str(tmp_path / 'twice.png'))
    delta_panel = figures[-1].axes[-1]
    labels = [t.get_text() for t in delta_panel.get_legend().get_texts()]
    assert labels == ['± 2.08: std of a run made twice\n(two machines, same seed)']
    # runs of one machine only: no band, no legend
    ablation.chart({v: [r for r in runs if r['machine'] == 'A'] for v, runs in results.items()},
                   str(tmp_path / 'once.png'))
    assert figures[-1].axes[-1].get_legend() is None
    assert (tmp_path / 'twice.png').stat().st_size > 0


def test_seeds_for_a_one_point_mde_follow_the_paired_spread():
    assert ablation.seeds_for_mde([1.0, -1.0, 3.0, 1.0]) == 11  # (2 * 1.633)^2 = 10.67
    assert ablation.seeds_for_mde([0.0, 1.0, 0.0, 1.0]) == 3  # (2 * 0.577)^2 = 1.33: floor 3
    assert ablation.seeds_for_mde([0.0, 0.0, 0.0]) == 3  # no spread: three seeds still needed
    assert ablation.seeds_for_mde([0.0, 1.0, 2.0]) == 4  # (2 * 1)^2 = 4.0 exactly
    assert ablation.seeds_for_mde([0.0, 1.0]) is None  # one degree of freedom: no plan
    assert ablation.seeds_for_mde([5.0]) is None
    assert ablation.seeds_for_mde([1.0, -1.0, 3.0, 1.0], target=2.0) == 3


def test_runs_are_paired_only_within_their_machine():
    results = {'baseline': [dict(seed=0, machine='A', val_mIoU=50.0),
                            dict(seed=1, machine='A', val_mIoU=52.0),
                            dict(seed=0, machine='B', val_mIoU=60.0)],
               'aml': [dict(seed=0, machine='A', val_mIoU=51.0),
                       dict(seed=1, machine='B', val_mIoU=40.0),  # no baseline seed 1 on B
                       dict(seed=0, machine='B', val_mIoU=57.0)]}
    # seed 0 on A: +1, seed 0 on B: -3; seed 1 has no partner on its machine
    assert ablation.paired_diffs(results['aml'], results['baseline'], 'val_mIoU') == [1.0, -3.0]
    note = ablation.pairing_note(results)
    assert note.startswith('Runs of 2 machines, each paired only with the baseline run of its '
                           'own seed and machine') and 'A (3 runs), B (3 runs)' in note
    assert note.endswith('ran on another machine only): aml seed 1 (B).')
    rows = ablation.seed_table(results).splitlines()
    assert rows[0] == '| val mIoU | seed 0, A | seed 0, B | seed 1, A | seed 1, B |'
    assert rows[3] == '| + AML, PatchMax (paper) | 51.00 | 57.00 | — | 40.00 |'
    one = {v: [r for r in runs if r['machine'] == 'A'] for v, runs in results.items()}
    assert ablation.pairing_note(one) == ''
    assert ablation.seed_table(one).splitlines()[0] == '| val mIoU | seed 0 | seed 1 |'
    # records without a machine (earlier files) pair with each other, as before
    legacy = [dict(seed=0, val_mIoU=1.0)]
    assert ablation.paired_diffs(legacy, [dict(seed=0, val_mIoU=3.0)], 'val_mIoU') == [-2.0]
    assert 'torch' in ablation.machine_name() and ', ' in ablation.machine_name()
    assert ablation.short_machine('Intel(R) Xeon(R) Processor, avx512f, 2 threads, torch 2') \
        == 'Intel Xeon'
    assert ablation.short_machine('AMD EPYC, avx512f, 2 threads, torch 2') == 'AMD EPYC'


def test_chart_labels_are_wrapped_so_neighbours_do_not_collide():
    label = ablation.tick_label('aml_loss', 1)
    lines = label.split('\n')
    assert lines[0] == 'AML' and lines[-1] == '(1 seed)'
    assert max(len(line) for line in lines) <= 20
    assert ' '.join(lines[2:-1]) == 'blocks ignored in the loss (image untouched)'
    assert ablation.tick_label('baseline', 3) == 'baseline (no AML)\n(3 seeds)'


def _run_readme_example(capsys):
    """Run the Python example of configs/amlris/README.md as written: (the README's text, the
    example's code, the lines it printed)."""
    with open(osp.join(REPO_ROOT, 'configs/amlris/README.md')) as f:
        text = f.read()
    [code] = re.findall(r'```python\n(.*?)```', text[text.index('## The records in Python'):],
                        flags=re.S)[:1]
    exec(compile(code, 'configs/amlris/README.md', 'exec'), {})
    return text, code, capsys.readouterr().out.splitlines()


def test_the_readme_example_pools_the_committed_records(capsys):
    """The Python example of configs/amlris/README.md runs as written: its pairs are the
    (seed, machine) that hold both rows in the committed files, the baseline first."""
    _, code, lines = _run_readme_example(capsys)
    rows = {}
    for name in re.findall(r"'(configs/amlris/results/[^']+\.jsonl)'", code):
        with open(osp.join(REPO_ROOT, name)) as f:
            for line in f:
                r = json.loads(line)
                rows.setdefault(r['variant'], {})[(r['seed'], r.get('machine'))] = r['val_mIoU']
    pairs = rows['aml'].keys() & rows['baseline'].keys()
    mean = sum(rows['aml'][k] - rows['baseline'][k] for k in pairs) / len(pairs)
    assert lines[0].startswith(f'PatchMax: {mean:+.2f} val mIoU over {len(pairs)} pairs, MDE ')
    assert lines[3].startswith('| baseline (no AML) |')


def test_the_readme_tables_of_the_campaign_are_the_committed_records(capsys):
    """Every line of every table of the 3,000-iteration campaign in configs/amlris/README.md is
    a line of the report its Python example makes from the committed records: a table left
    behind when runs land (or edited by hand) fails here. Rows may be ordered differently (the
    tool's call orders them, the example follows ``VARIANTS``)."""
    text, _, lines = _run_readme_example(capsys)
    made = set(lines)
    campaign = text[text.index('**The ablation on this instrument**'):
                    text.index('## The records in Python')]
    tables = re.findall(r'(?:^\|.*\|\n)+', campaign, flags=re.M)
    headers = [t.splitlines()[0].split(' | ')[0] for t in tables]
    # the main table, val mIoU and oIoU per run, robustness, per corruption, per kind
    assert headers == ['| variant', '| val mIoU', '| val oIoU', '| variant',
                       '| corruption mIoU (baseline: mean; others: Δ, wins)',
                       '| val mIoU by group (baseline: mean; others: Δ, wins)']
    for table in tables:
        stale = [line for line in table.splitlines() if line not in made]
        assert not stale, f'configs/amlris/README.md: not what the records say: {stale}'
    rows = tables[0].splitlines()[2:]
    assert rows[0].startswith('| baseline (no AML) |') and len(rows) >= 5


def test_group_table_pairs_each_group_within_seed_and_machine():
    def run(seed, machine, **by_group):
        return dict(seed=seed, machine=machine, val_mIoU_by_group=by_group)

    results = {'baseline': [run(0, 'A', attr=70.0, relation=30.0), run(0, 'B', attr=80.0)],
               'aml': [run(0, 'A', attr=72.0, relation=20.0), run(0, 'B', attr=77.0),
                       dict(seed=1, machine='A')]}  # a run recorded without the breakdown
    lines = ablation.group_table(results).splitlines()
    assert lines[0] == ('| val mIoU by group (baseline: mean; others: Δ, wins) | runs | attr '
                        '| relation |')
    assert lines[2] == '| baseline (no AML) | 2 | 75.00 ± 7.07 | 30.00 ± 0.00 |'
    # attr: +2 on A, -3 on B; relation: -10 on A only
    assert lines[3] == '| + AML, PatchMax (paper) | 2 | -0.50 ± 3.54 (1/2) | -10.00 ± 0.00 (0/1) |'
    assert ablation.group_table({'baseline': [dict(seed=0)]}) == ''
    # columns in the order of SYNREF_GROUPS, not in the order of a record's keys (a records
    # file stores them sorted)
    stored = {'baseline': [run(0, 'A', **{'relation': 1.0, 'names shape': 2.0, 'attr': 3.0})]}
    assert ablation.group_table(stored).splitlines()[0].endswith(
        '| runs | attr | relation | names shape |')
