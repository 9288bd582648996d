# Copyright (c) mmamlris contributors. All rights reserved.
"""See what AML would mask on training samples, before training (or with a checkpoint).

Builds the config's training dataset (with its training pipeline) and model, runs only
stage 1 and the alignment-aware masking on ``-n`` samples, writes one panel image per sample
(input + expression, alignment heat map, weak set, block mask, stage-2 input, GT) to
``--out``, and prints the mean masked and weak fractions, so that ``tau``, ``rho``,
``temperature`` and ``block_size`` can be tuned from them. It also prints whether AML aims:
the ROC-AUC of the block scores for the referred object (0.5 = chance) and how much of the
object was masked against the rest of the image. With a scorer that carries signal, AML hides
less of the object than ``--cfg-options model.aml.filter.mode=random`` does::

    python tools/analysis_tools/browse_aml_masks.py \
        configs/amlris/amlris_lite_minilm_synref-160x160.py --out work_dirs/aml_masks -n 16 \
        --cfg-options model.aml.filter.tau=0.3

Without ``--checkpoint`` the model has its initial weights (pretrained text encoder,
randomly initialised parts elsewhere), which is what AML sees at the start of training.
The model runs in training mode, as AML does during training (BatchNorm uses the batch
statistics); nothing is optimised or saved.
"""
import argparse
import copy
import os
import os.path as osp
from typing import Dict, Optional, Sequence

from mmamlris.utils import InputValueError, find_dataset_cfg, load_config, run_tool

# Statistics of AlignmentAwareMasking printed, with their descriptions.
_STATS = (('aml_mask_ratio', 'masked fraction (pixels)'),
          ('aml_weak_ratio', 'weak fraction (pixels)'),
          ('aml_block_mask_ratio', 'masked fraction (blocks)'),
          ('aml_masked_blocks', 'masked blocks per image'),
          ('aml_weak_blocks', 'weak blocks per image'),
          ('aml_score_mean', 'alignment score mean'),
          ('aml_target_auc', 'target ROC-AUC (blocks)'),
          ('aml_object_masked', 'object pixels masked'),
          ('aml_context_masked', 'context pixels masked'))
# Per-image statistics, averaged over the samples where they are defined.
_PER_IMAGE = ('target_auc', 'object_masked', 'context_masked')


def alignment_sums(aml_out, samples, block_size) -> Dict[str, float]:
    """Sums and counts of the per-image alignment statistics of one batch.

    Returns:
        dict: For each statistic, ``aml_<name>``: its sum over the images where it is defined,
        and ``aml_<name>_count``: the number of those images (empty without GT).
    """
    from mmamlris.models.aml import per_image_alignment
    per = per_image_alignment(aml_out.score_map, aml_out.block_mask, samples, block_size)
    sums: Dict[str, float] = {}
    for name in _PER_IMAGE if per is not None else ():
        values = [image[name] for image in per if image[name] is not None]
        sums[f'aml_{name}'] = float(sum(values))
        sums[f'aml_{name}_count'] = len(values)
    return sums


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        description='Draw what alignment-aware masking masks on training samples')
    parser.add_argument('config', help='config file (with model.aml)')
    parser.add_argument('--checkpoint', help='checkpoint to load (default: initial weights)')
    parser.add_argument('--out', required=True, help='directory to write the panels to')
    parser.add_argument('-n', '--num-samples', type=int, default=16,
                        help='number of training samples to draw')
    parser.add_argument('--max-panels', type=int, default=None,
                        help='draw the panels of the first K samples only (default: all); '
                        '0 only measures, e.g. the alignment of a checkpoint on -n 1000 '
                        'samples of --split val')
    parser.add_argument('--split', help='annotation split to read with the training pipeline '
                        '(default: the split of train_dataloader.dataset)')
    parser.add_argument('--batch-size', type=int, default=4,
                        help='samples per forward pass (AML works per batch)')
    parser.add_argument('--device', default=None,
                        help="device, e.g. 'cpu' or 'cuda:0' (default: cuda if available)")
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the expression sampling and the AML block choices')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. model.aml.filter.tau=0.3 '
        'model.aml.filter.rho=0.5')
    args = parser.parse_args(argv)
    if args.num_samples < 1:
        parser.error(f'-n must be at least 1, got {args.num_samples}.')
    if args.max_panels is not None and args.max_panels < 0:
        parser.error(f'--max-panels must be at least 0, got {args.max_panels}.')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be at least 1, got {args.batch_size}.')
    if not osp.isfile(args.config):
        parser.error(f'config file {args.config!r} does not exist.')
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint!r} does not exist.')
    return args


def _train_dataset_cfg(cfg, split: Optional[str]) -> dict:
    """The training dataset config, with ``split`` set on the dataset that has one."""
    loader = cfg.get('train_dataloader')
    if not loader or not loader.get('dataset'):
        raise InputValueError('The config has no train_dataloader.dataset to browse.')
    dataset_cfg = copy.deepcopy(loader['dataset'])
    if split is None:
        return dataset_cfg
    inner = find_dataset_cfg(dataset_cfg, 'split')
    if inner is None:
        raise InputValueError('--split: the training dataset config has no `split` key to set; '
                              'edit the config instead.')
    inner['split'] = split
    return dataset_cfg


def _build_model(cfg, checkpoint: Optional[str], device):
    import logging

    from mmengine.logging import MMLogger
    from mmengine.runner import load_checkpoint

    from mmamlris.registry import MODELS
    model = MODELS.build(copy.deepcopy(cfg.model))
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights logs every parameter at INFO
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).train()


def _draw_batch(visualizer, model, data: Dict, aml_out, out_dir: str, first: int,
                limit: Optional[int] = None) -> None:
    """Write one panel image per sample of the batch (the first ``limit`` ones)."""
    from mmamlris.visualization import draw_aml_step
    samples = data['data_samples']
    if limit is not None:
        samples = samples[:limit]
    names = []
    for i, sample in enumerate(samples):
        stem = osp.splitext(osp.basename(str(sample.metainfo.get('img_path', 'sample'))))[0]
        names.append(f'{first + i:04d}_{stem}_ref{sample.metainfo.get("ref_id", "")}')
    draw_aml_step(visualizer, model.data_preprocessor, data['inputs'], aml_out, samples,
                  model.aml.block_size, names,
                  out_files=[osp.join(out_dir, f'{name}.png') for name in names])


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """Run the tool; returns the mean of every AML statistic over the samples."""
    args = parse_args(argv)
    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate
    from tqdm import tqdm

    from mmamlris.registry import DATASETS
    from mmamlris.visualization import RISLocalVisualizer

    cfg = load_config(args.config, args.cfg_options, init_scope=True)
    if not cfg.get('model') or cfg.model.get('aml') is None:
        raise InputValueError(
            f'{args.config} has no model.aml: it trains without alignment-aware masking, so '
            'there is nothing to browse. Use a configs/amlris/ config, or a config that sets '
            "model.aml=dict(type='AlignmentAwareMasking', scorer=..., filter=...).")
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    dataset = DATASETS.build(_train_dataset_cfg(cfg, args.split))
    if len(dataset) == 0:
        raise InputValueError('The training dataset is empty.')
    count = min(args.num_samples, len(dataset))
    model = _build_model(cfg, args.checkpoint, device)
    os.makedirs(args.out, exist_ok=True)
    visualizer = RISLocalVisualizer.get_instance(f'browse_aml_masks_{id(args)}')

    totals: Dict[str, float] = {}
    per_image: Dict[str, float] = {}
    with tqdm(total=count, desc='AML masks', unit='sample') as progress:
        for first in range(0, count, args.batch_size):
            items = [dataset[i] for i in range(first, min(first + args.batch_size, count))]
            data = model.data_preprocessor(pseudo_collate(items), True)
            with torch.no_grad():
                aml_out = model.mask_batch(data['inputs'], data['data_samples'])
            for key, value in aml_out.stats.items():
                totals[key] = totals.get(key, 0.0) + float(value) * len(items)
            for key, value in alignment_sums(aml_out, data['data_samples'],
                                             model.aml.block_size).items():
                per_image[key] = per_image.get(key, 0) + value
            if args.max_panels is None or first < args.max_panels:
                _draw_batch(visualizer, model, data, aml_out, args.out, first,
                            limit=None if args.max_panels is None else args.max_panels - first)
            progress.update(len(items))

    means = {key: value / count for key, value in totals.items()}
    for key in (f'aml_{name}' for name in _PER_IMAGE):  # per image: exact over the samples
        if per_image.get(f'{key}_count'):
            means[key] = per_image[key] / per_image[f'{key}_count']
    split = args.split or 'training'
    print(f'AML on {count} samples of the {split} split, training pipeline '
          f'({model.aml.scorer!r}, {model.aml.filter!r}):')
    for key, label in _STATS:
        if key in means:
            print(f'  {label:<26} {means[key]:.3f}')
    drawn = count if args.max_panels is None else min(count, args.max_panels)
    print(f'{drawn} panels written to {args.out}')
    return means


if __name__ == '__main__':
    run_tool(main)
