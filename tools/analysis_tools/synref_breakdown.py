# Copyright (c) mmamlris contributors. All rights reserved.
"""Scores of SynRef test runs per kind of expression, side by side, with the differences.

``python tools/analysis_tools/synref_breakdown.py DATA_ROOT RUN.json [RUN.json ...]``

Each ``RUN.json`` holds the per-expression records of one model (``tools/test.py --out``, or a
run folder's ``per_expression.json`` of the ablation tool), all tested on the SynRef at
``DATA_ROOT``. A column per group of expressions (the kind of form: attributes only, a spatial
superlative, a relation to a landmark; and which attributes of the referent they name), a row
per run (named by its folder, or ``--names``), then each run's difference to the first on the
same expressions. Where a row of the ablation wins or loses, and whether its seeds lose in
the same place (see ``mmamlris.evaluation.breakdown``).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mmamlris.evaluation import (breakdown_table, check_sent_ids, synref_grouper,  # noqa: E402
                                 synref_sentences)
from mmamlris.utils import InputValueError, atomic_write, run_tool  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('data_root', help='the SynRef the runs were tested on')
    parser.add_argument('runs', nargs='+', help='per-expression records (tools/test.py --out)')
    parser.add_argument('--names', nargs='+', help='a name per run (default: its folder)')
    parser.add_argument('--split', default='val', help='the split to break down (default: val)')
    parser.add_argument('--metric', default='mIoU', choices=['mIoU', 'oIoU'])
    parser.add_argument('--out-md', help='also write the table to this file')
    args = parser.parse_args(argv)
    if args.names and len(args.names) != len(args.runs):
        parser.error(f'--names gives {len(args.names)} names for {len(args.runs)} runs')
    return args


def read_records(path: str, split: str) -> list:
    """The records of ``split`` in a ``tools/test.py --out`` file."""
    try:
        with open(path) as f:
            records = json.load(f)
        rows = [r for r in records if r['split'] == split and 'i' in r and 'u' in r]
    except FileNotFoundError:
        raise InputValueError(f'{path} does not exist.') from None
    except (ValueError, TypeError, KeyError) as err:
        raise InputValueError(f'{path} is not a list of per-expression records with '
                              f'"split", "sent_id", "i" and "u" ({err}).') from None
    if not rows:
        raise InputValueError(f'{path} holds no records of the split {split!r}.')
    return rows


def main(argv=None) -> str:
    args = parse_args(argv)
    sentences = synref_sentences(args.data_root)
    names = args.names or [osp.basename(osp.dirname(osp.abspath(p))) for p in args.runs]
    if len(set(names)) < len(names):
        raise InputValueError(f'two runs have the same name ({names}): give --names.')
    runs = {name: read_records(path, args.split) for name, path in zip(names, args.runs)}
    for name, path in zip(names, args.runs):
        check_sent_ids(runs[name], sentences, f'{path} (against {args.data_root})')
    table = breakdown_table(runs, synref_grouper(sentences), metric=args.metric)
    if args.out_md:
        atomic_write(args.out_md, table + '\n')
    print(table)
    return table


if __name__ == '__main__':
    run_tool(main)
