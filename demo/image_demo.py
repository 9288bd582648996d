# Copyright (c) mmamlris contributors. All rights reserved.
"""Segment what an expression refers to in one image and draw it.

Example::

    python demo/image_demo.py data/synref/images/synref_000001.jpg \
        "the red circle on the left" \
        configs/amlris/amlris_lite_minilm_synref-160x160.py work_dirs/.../iter_1500.pth \
        --out-file out.png

The output is the image with the predicted mask blended in and the expression written
below it.
"""
import argparse
import os.path as osp
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Referring image segmentation demo')
    parser.add_argument('img', help='image file')
    parser.add_argument('text', help='the referring expression, e.g. "the dog on the left"')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-file', help='write the drawn result to this file')
    parser.add_argument('--show', action='store_true', help='show the result in a window')
    parser.add_argument('--device', default=None,
                        help="device, e.g. 'cpu' or 'cuda:0' (default: cuda if available)")
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the mask over the image, in [0, 1]')
    args = parser.parse_args(argv)
    if args.out_file is None and not args.show:
        parser.error('nothing to do: give --out-file and/or --show.')
    if not 0.0 <= args.opacity <= 1.0:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}.')
    for what, path in (('image', args.img), ('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            parser.error(f'{what} file {path!r} does not exist.')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    import mmcv

    from mmamlris.apis import RISInferencer
    from mmamlris.visualization import RISLocalVisualizer

    inferencer = RISInferencer(args.config, args.checkpoint, device=args.device)
    result = inferencer(args.img, args.text)
    image = mmcv.imread(args.img, channel_order='rgb')
    visualizer = RISLocalVisualizer.get_instance('image_demo')
    drawn = visualizer.draw_ris_result(image, args.text, result['mask'], alpha=args.opacity)
    if args.out_file:
        mmcv.imwrite(mmcv.rgb2bgr(drawn), args.out_file)
        print(f'Wrote {args.out_file} (mask covers {result["mask"].mean():.1%} of the '
              'image).')
    if args.show:
        visualizer.show(drawn, win_name='image_demo', wait_time=0)


if __name__ == '__main__':
    main()
