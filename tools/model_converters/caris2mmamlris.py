# Copyright (c) mmamlris contributors. All rights reserved.
"""Convert an official CARIS or AMLRIS checkpoint into an mmamlris checkpoint.

Usage::

    python tools/model_converters/caris2mmamlris.py SRC DST

SRC is the file the official ``train.py`` saves (``model``, ``optimizer``, ``epoch``, ``args``,
...; only ``model`` is read, with ``weights_only=True``). DST is an mmengine checkpoint
(``state_dict``, ``meta``) that loads with ``strict=True`` into ``AMLSegmentor`` built from
the CARIS configs (``configs/caris/``), whatever the Swin / BERT sizes: the tool prints the
settings it read off the weights as ``--cfg-options``. An AMLRIS checkpoint also carries the
released code's untrained text projection, written as ``aml.scorer.text_proj_*`` for
``configs/amlris/amlris-official_*`` (``ReleasedRelevanceScorer``). The mapping and its traps:
``mmamlris/converters/caris.py``. DST is written to a temporary name and renamed.
"""
import argparse
import os
import os.path as osp

import torch

from mmamlris.converters import convert_caris_state_dict, load_official_checkpoint
from mmamlris.utils import run_tool


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official CARIS / AMLRIS checkpoint')
    parser.add_argument('dst', help='mmamlris checkpoint to write')
    return parser.parse_args(argv)


def _option(value) -> str:
    return str(list(value)).replace(' ', '') if isinstance(value, (list, tuple)) else str(value)


def main(argv=None) -> None:
    args = parse_args(argv)
    conversion = convert_caris_state_dict(load_official_checkpoint(args.src))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    tmp = f'{args.dst}.tmp-{os.getpid()}'
    meta = dict(source=osp.abspath(args.src), converter='caris2mmamlris',
                detected_config=conversion.config)
    torch.save(dict(state_dict=conversion.state_dict, meta=meta), tmp)
    os.replace(tmp, args.dst)
    state = conversion.state_dict
    print(f'{len(state)} tensors written to {args.dst}.')
    for key, reason in conversion.dropped:
        print(f'dropped {key}: {reason}')
    if any(k.startswith('aml.') for k in state):
        print('AMLRIS checkpoint: its text projection is in aml.scorer.text_proj_{weight,bias}; '
              'load it into an amlris-official_* config (ReleasedRelevanceScorer). Without AML '
              '(tools/test.py on a caris_* config) those two keys are reported as unexpected '
              'and ignored.')
    text = conversion.config.get('text hidden size / layers')
    if text is not None:
        print(f'text encoder: hidden size {text[0]}, {text[1]} layers (model.text_encoder.'
              f'pretrained must point to a BERT of that size, e.g. bert-base-uncased: 768, 12)')
    options = ' '.join(f'{k}={_option(v)}' for k, v in conversion.config.items()
                       if k.startswith('model.'))
    print(f'model settings read off the weights (the CARIS configs default to Swin-B window 7, '
          f'BERT-base):\n  --cfg-options {options}')


if __name__ == '__main__':
    run_tool(main)
