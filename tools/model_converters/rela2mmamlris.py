# Copyright (c) mmamlris contributors. All rights reserved.
"""Convert an official ReLA (GRES) checkpoint into an mmamlris checkpoint.

Usage::

    python tools/model_converters/rela2mmamlris.py SRC DST

SRC is a detectron2 checkpoint of the official ReLA code (``{'model': state_dict, ...}``: the
released Swin-B file or a ``train_net.py`` output), read with
``weights_only=True``. DST is an mmengine checkpoint (``state_dict``, ``meta``) that loads with
``strict=True`` into ``AMLSegmentor`` built from the ReLA config (``configs/rela/``); the tool
prints the settings it read off the weights as ``--cfg-options``. The mapping:
``mmamlris/converters/rela.py``. DST is written to a temporary name and renamed.
"""
import argparse
import os
import os.path as osp

import torch

from mmamlris.converters import convert_rela_state_dict, load_rela_checkpoint
from mmamlris.utils import run_tool


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official ReLA checkpoint (detectron2)')
    parser.add_argument('dst', help='mmamlris checkpoint to write')
    return parser.parse_args(argv)


def _option(value) -> str:
    return str(list(value)).replace(' ', '') if isinstance(value, (list, tuple)) else str(value)


def main(argv=None) -> None:
    args = parse_args(argv)
    conversion = convert_rela_state_dict(load_rela_checkpoint(args.src))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    tmp = f'{args.dst}.tmp-{os.getpid()}'
    meta = dict(source=osp.abspath(args.src), converter='rela2mmamlris',
                detected_config=conversion.config)
    torch.save(dict(state_dict=conversion.state_dict, meta=meta), tmp)
    os.replace(tmp, args.dst)
    print(f'{len(conversion.state_dict)} tensors written to {args.dst}.')
    for key, reason in conversion.dropped:
        print(f'dropped {key}: {reason}')
    text = conversion.config.get('text hidden size / layers')
    if text is not None:
        print(f'text encoder: hidden size {text[0]}, {text[1]} layers (model.text_encoder.'
              f'pretrained must point to a BERT of that size, e.g. bert-base-uncased: 768, 12)')
    options = ' '.join(f'{k}={_option(v)}' for k, v in conversion.config.items()
                       if k.startswith('model.'))
    print('model settings read off the weights (the ReLA config defaults to Swin-B window 12, '
          'BERT-base, 256 channels, 100 queries, 9 rounds; head counts are not in the '
          f'weights):\n  --cfg-options {options}')


if __name__ == '__main__':
    run_tool(main)
