# Copyright (c) mmamlris contributors. All rights reserved.
"""Convert DETRIS weights into an mmamlris checkpoint.

Usage::

    # a released (or self-trained) DETRIS checkpoint
    python tools/model_converters/detris2mmamlris.py SRC DST
    # the public towers a DETRIS training starts from
    python tools/model_converters/detris2mmamlris.py --clip ViT-B-16.pt \
        --dinov2 dinov2_vitb14_reg4_pretrain.pth DST

SRC is a checkpoint DETRIS's ``train.py`` saves (``{'state_dict': {'module.txt_backbone.*',
'module.dinov2.*', 'module.neck.*', ...}}``, read with ``weights_only=True``); DST then loads
with ``strict=True`` into ``AMLSegmentor`` built from ``configs/detris/`` (``--cfg-options
load_from=DST``, or ``tools/test.py CONFIG DST``). With ``--clip`` (OpenAI's TorchScript file or
a state dict) and ``--dinov2`` (Meta's DINOv2 with registers) DST holds the frozen towers and
CLIP's text projection only: the configs' ``load_from``. The tool prints the settings read off
the weights that differ from the DETRIS-B configs as ``--cfg-options`` (none for DETRIS-B;
DETRIS-L's DINOv2 differs). The mapping: ``mmamlris/converters/detris.py``. DST is
written to a temporary name and renamed.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config

from mmamlris.converters import (convert_detris_pretrained, convert_detris_state_dict,
                                 load_detris_checkpoint, load_public_tower)
from mmamlris.utils import InputValueError, run_tool


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('paths', nargs='+', metavar='SRC DST',
                        help='the DETRIS checkpoint and the file to write (DST only with '
                        '--clip/--dinov2)')
    parser.add_argument('--clip', help="OpenAI's CLIP checkpoint (ViT-B-16.pt)")
    parser.add_argument('--dinov2', help="Meta's DINOv2 with registers checkpoint")
    args = parser.parse_args(argv)
    towers = (args.clip is not None, args.dinov2 is not None)
    if any(towers) and (not all(towers) or len(args.paths) != 1):
        parser.error('--clip and --dinov2 go together, with DST only')
    if not any(towers) and len(args.paths) != 2:
        parser.error('give SRC and DST (or --clip, --dinov2 and DST)')
    return args


BASE_MODEL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                      '_base_', 'models', 'detris_dinov2-b_clip-b.py')


def _config_value(cfg: Config, key: str):
    """The value of a dotted ``--cfg-options`` key in ``cfg`` (None when absent)."""
    value = cfg.to_dict()
    for part in key.split('.'):
        value = value.get(part) if isinstance(value, dict) else None
    return list(value) if isinstance(value, (list, tuple)) else value


def differing_options(detected: dict, base: Config) -> dict:
    """The detected settings whose value differs from the base model config's."""
    return {k: v for k, v in detected.items()
            if _config_value(base, k) != (list(v) if isinstance(v, (list, tuple)) else v)}


def _option(value) -> str:
    return str(list(value)).replace(' ', '') if isinstance(value, (list, tuple)) else str(value)


def main(argv=None) -> None:
    args = parse_args(argv)
    dst = args.paths[-1]
    if args.clip is not None:
        conversion = convert_detris_pretrained(load_public_tower(args.clip, 'CLIP'),
                                               load_public_tower(args.dinov2, 'DINOv2'))
        source = dict(clip=osp.abspath(args.clip), dinov2=osp.abspath(args.dinov2))
    else:
        conversion = convert_detris_state_dict(load_detris_checkpoint(args.paths[0]))
        source = osp.abspath(args.paths[0])
    if not conversion.state_dict:
        raise InputValueError('DETRIS conversion: no tensors to write.')
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    tmp = f'{dst}.tmp-{os.getpid()}'
    meta = dict(source=source, converter='detris2mmamlris', detected_config=conversion.config)
    torch.save(dict(state_dict=conversion.state_dict, meta=meta), tmp)
    os.replace(tmp, dst)
    print(f'{len(conversion.state_dict)} tensors written to {dst}.')
    for key, reason in conversion.dropped:
        print(f'dropped {key}: {reason}')
    differing = differing_options(conversion.config, Config.fromfile(BASE_MODEL))
    if not differing:
        print('the weights fit configs/detris/ as they are (DINOv2-B/14 with registers, CLIP '
              'ViT-B/16\'s text tower): no --cfg-options needed.')
    else:
        options = ' '.join(f'{k}={_option(v)}' for k, v in differing.items())
        print('model settings read off the weights that differ from configs/detris/ (DINOv2-B, '
              f'CLIP ViT-B/16):\n  --cfg-options {options}')


if __name__ == '__main__':
    run_tool(main)
