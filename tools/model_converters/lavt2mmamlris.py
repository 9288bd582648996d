# Copyright (c) mmamlris contributors. All rights reserved.
"""Convert an official LAVT checkpoint into an mmamlris checkpoint.

Usage::

    python tools/model_converters/lavt2mmamlris.py SRC DST

SRC is the file the official LAVT ``train.py`` saves, or one of the released checkpoints:
``model`` (and ``bert_model`` for the model ``lavt``; a ``lavt_one`` checkpoint has BERT inside
``model``), read with ``weights_only=True``. DST is an mmengine checkpoint (``state_dict``,
``meta``) that loads with ``strict=True`` into ``AMLSegmentor`` built from the LAVT configs
(``configs/lavt/``); the tool prints the settings it read off the weights as
``--cfg-options``. The mapping and its traps: ``mmamlris/converters/lavt.py``. DST is written to
a temporary name and renamed.
"""
import argparse
import os
import os.path as osp

import torch

from mmamlris.converters import convert_lavt_state_dict, load_lavt_checkpoint
from mmamlris.utils import run_tool


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official LAVT checkpoint')
    parser.add_argument('dst', help='mmamlris checkpoint to write')
    return parser.parse_args(argv)


def _option(value) -> str:
    return str(list(value)).replace(' ', '') if isinstance(value, (list, tuple)) else str(value)


def main(argv=None) -> None:
    args = parse_args(argv)
    conversion = convert_lavt_state_dict(*load_lavt_checkpoint(args.src))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    tmp = f'{args.dst}.tmp-{os.getpid()}'
    meta = dict(source=osp.abspath(args.src), converter='lavt2mmamlris',
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
    print('model settings read off the weights (the LAVT configs default to Swin-B window 12, '
          'BERT-base; the pixel-word attention heads are not in the weights: LAVT\'s '
          f'default is one per stage):\n  --cfg-options {options}')


if __name__ == '__main__':
    run_tool(main)
