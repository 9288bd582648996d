# Copyright (c) mmamlris contributors. All rights reserved.
"""Generate SynRef, the synthetic RefCOCO-layout dataset (:mod:`mmamlris.datasets.synref`).

Usage::

    python tools/dataset_converters/synref.py --out data/synref --num-images 2000 \\
        --img-size 160 --seed 0 [--stats]
"""
import argparse
import time

from mmamlris.datasets.synref import SPLITS, format_stats, generate_synref


def parse_args() -> argparse.Namespace:
    ratios = ' / '.join(f'{int(r * 100)}' for _, r in SPLITS)
    names = ' / '.join(n for n, _ in SPLITS)
    parser = argparse.ArgumentParser(
        description='Generate SynRef, a synthetic referring segmentation dataset in the '
        "RefCOCO layout: OUT/images/*.jpg, OUT/instances.json, OUT/refs(unc).p. Splits: "
        f'{ratios} %% of the images go to {names}; all refs of an image share its split, as '
        "in RefCOCO's unc split.")
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--num-images', type=int, default=2000, help='number of images')
    parser.add_argument('--img-size', type=int, default=160,
                        help='nominal image side S (pixels)')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed; the same arguments give byte-identical files')
    parser.add_argument('--aspect-jitter', type=float, default=0.25,
                        help='each side is drawn in [(1-j)S, (1+j)S]; 0 for SxS images')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a dataset already in --out')
    parser.add_argument('--gres', action='store_true',
                        help='also write grefs(unc).json (gRefCOCO layout) with multi-target '
                        'and no-target expressions; the REFER files stay the same')
    parser.add_argument('--no-target-ratio', type=float, default=0.2,
                        help='with --gres: probability that an image gets a no-target '
                        'expression (default 0.2)')
    parser.add_argument('--overlap', type=float, default=None,
                        help='scenes with overlapping objects, a robustness test set: bounding '
                        'circles may overlap by this fraction of the sum of their radii (the '
                        'default scenes: 0.1), objects are drawn in random order and each '
                        'annotation is the visible region (RLE); e.g. 0.5')
    parser.add_argument('--stats', action='store_true',
                        help='print the full statistics (otherwise a one-line summary)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    try:
        stats = generate_synref(args.out, args.num_images, args.img_size, args.seed,
                                aspect_jitter=args.aspect_jitter, overwrite=args.overwrite,
                                progress=True, gres=args.gres,
                                no_target_ratio=args.no_target_ratio,
                                overlap=args.overlap)
    except (ValueError, FileExistsError) as e:
        raise SystemExit(f'synref: {e}') from None
    elapsed = time.perf_counter() - start
    if args.stats:
        print(format_stats(stats))
    print(f'SynRef: {stats["images"]} images, {stats["refs"]} refs, {stats["sentences"]} '
          f'sentences written to {args.out} in {elapsed:.1f} s.')
    if 'overlap' in stats:
        o = stats['overlap']
        print(f'Overlap {o["overlap"]}: {100 * o["referred_partly_hidden"]:.1f} % of the '
              f'referred objects are partly hidden; on average '
              f'{100 * o["referred_visible_share"]:.1f} % of a referred object is visible.')
    if 'gres' in stats:
        g = stats['gres']
        print(f'grefs(unc).json: {g["expressions"]} expressions, {g["multi_target"]} with '
              f'several targets, {g["no_target"]} without target.')


if __name__ == '__main__':
    main()
