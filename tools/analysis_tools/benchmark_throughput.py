# Copyright (c) mmamlris contributors. All rights reserved.
"""Throughput of a config: training iterations/s, evaluation expressions/s, data loading.

Three measurements, for the figures of docs/en/performance.md:

* **training**: ``model.train_step`` (data preprocessing, loss, backward, optimizer step) on a
  synthetic batch of the training batch size and image size, as
  ``benchmark_aml.py`` times it; median after warm-up -> iterations/s and images/s.
* **evaluation**: ``model.test_step`` (under ``torch.no_grad()``, eval mode) over the
  config's ``val_dataloader`` (real data, its batch size and workers unless
  ``--num-workers``), for ``--num-samples`` expressions after one warm-up batch ->
  expressions/s end to end (waiting for the loader included) and of the model alone.
* **data loading**: the training dataset's pipeline (annotation lookup, image decode,
  referring mask, resize, expression sampling, tokenisation, packing) applied to
  ``--num-samples`` samples in this process after one warm-up sample: the throughput of
  one dataloader worker, with the time of each transform.

The data must exist; for SynRef generate it first::

    python tools/dataset_converters/synref.py --out data/synref --num-images 2000 \
        --img-size 160 --seed 0

Example::

    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_throughput.py \
        configs/amlris/amlris_lite_minilm_synref-160x160.py --num-samples 400

The last line is ``train_it_per_s=<..> eval_expr_per_s=<..>
data_samples_per_s_per_worker=<..>``.
"""
import argparse
import copy
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from mmamlris.utils import (InputFileNotFoundError, InputValueError, load_config,
                            offline_model_cfg, run_tool)
from mmamlris.testing.ris_inputs import synthetic_batch
from mmamlris.utils.benchmark import (build_optim, config_img_size, format_table,
                                      load_average, machine_line, quartiles, quiet,
                                      time_alternating)

SYNREF_HINT = ('generate SynRef with `python tools/dataset_converters/synref.py --out '
               'data/synref --num-images 2000 --img-size 160 --seed 0`, or point '
               '--cfg-options train_dataloader.dataset.data_root=... '
               'val_dataloader.dataset.data_root=... at your data')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        description='Training iterations/s, evaluation expressions/s and data loading '
        'samples/s per worker of a config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--num-samples', type=int, default=200,
                        help='expressions to evaluate and training samples to load')
    parser.add_argument('--train-iters', type=int, default=10,
                        help='measured training steps (median reported)')
    parser.add_argument('--warmup', type=int, default=2, help='unmeasured training steps first')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='workers of the evaluation dataloader (default: the config\'s)')
    parser.add_argument('--device', default=None, choices=['cpu', 'cuda'],
                        help='device (default: cuda if available)')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch CPU threads (default: torch's own)")
    parser.add_argument('--seed', type=int, default=0, help='seed of weights and batches')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. val_dataloader.batch_size=16')
    args = parser.parse_args(argv)
    for name in ('num_samples', 'train_iters', 'threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1, got {value}.')
    if args.warmup < 0 or (args.num_workers is not None and args.num_workers < 0):
        parser.error('--warmup and --num-workers must be >= 0.')
    if not osp.isfile(args.config):
        parser.error(f'config file {args.config!r} does not exist.')
    return args


def _build_dataset(dataset_cfg, what: str):
    """Build a dataset, turning a missing annotation file into a message with the fix."""
    from mmamlris.registry import DATASETS
    try:
        return DATASETS.build(copy.deepcopy(dataset_cfg))
    except FileNotFoundError as err:
        raise InputFileNotFoundError(
            f'Cannot build the {what} dataset: {err}\nTo fix it, {SYNREF_HINT}.') from None


# ---------------------------------------------------------------------------- training
def measure_training(cfg, args: argparse.Namespace,
                     device: torch.device) -> Tuple[List[float], int, Tuple[int, int], List[str]]:
    """Seconds of ``train_step`` on a synthetic batch, after warm-up."""
    from mmamlris.registry import MODELS

    model_cfg, notes = offline_model_cfg(cfg.model)
    with quiet():
        torch.manual_seed(args.seed)
        model = MODELS.build(model_cfg)
        model.init_weights()
        model = model.to(device).train()
        optim_wrapper = build_optim(model, cfg, device, amp=False)
    batch_size = cfg.train_dataloader.batch_size
    img_size = config_img_size(cfg)
    batch = synthetic_batch(batch_size, img_size, args.seed)
    data: Dict[str, dict] = {}

    def prepare(_):
        data['batch'] = copy.deepcopy(batch)

    times = time_alternating(
        {'train': lambda: model.train_step(data['batch'], optim_wrapper)}, args.train_iters,
        args.warmup, device, prepare=prepare)['train']
    return times, batch_size, img_size, notes


# ---------------------------------------------------------------------------- evaluation
def measure_evaluation(cfg, args: argparse.Namespace,
                       device: torch.device) -> Tuple[int, float, float, int, int]:
    """Expressions, wall seconds and model seconds of ``test_step`` over the val dataloader.

    Returns:
        tuple: ``(expressions, wall seconds, model seconds, batch size, workers)``, the first
        batch (warm-up, worker start) not counted.
    """
    from mmengine.runner import Runner
    from tqdm import tqdm

    from mmamlris.registry import MODELS

    loader_cfg = copy.deepcopy(cfg.val_dataloader)
    if args.num_workers is not None:
        loader_cfg.num_workers = args.num_workers
        if args.num_workers == 0:
            loader_cfg.persistent_workers = False
    dataset = _build_dataset(loader_cfg.dataset, 'validation')
    loader_cfg.dataset = dataset
    loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
    model_cfg, _ = offline_model_cfg(cfg.model)
    with quiet():
        torch.manual_seed(args.seed)
        model = MODELS.build(model_cfg)
        model.init_weights()
    model = model.to(device).eval()

    total = min(args.num_samples, max(len(dataset) - loader_cfg.batch_size, 0))
    done, model_seconds, start = 0, 0.0, None
    with torch.no_grad(), tqdm(total=total, desc='evaluation', unit='expr') as bar:
        for i, batch in enumerate(loader):
            step_start = time.perf_counter()
            model.test_step(batch)
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            now = time.perf_counter()
            if i == 0:  # warm-up: worker start and first-call costs
                start = now
                continue
            model_seconds += now - step_start
            done += len(batch['data_samples'])
            bar.update(len(batch['data_samples']))
            if done >= total:
                break
    if done == 0:
        raise InputValueError(f'The validation set ({len(dataset)} expressions) has no batch '
                              'beyond the warm-up one; give more data or a smaller val batch '
                              'size.')
    return (done, time.perf_counter() - start, model_seconds, loader_cfg.batch_size,
            loader_cfg.num_workers)


# ---------------------------------------------------------------------------- data loading
def measure_data_loading(cfg, args: argparse.Namespace) -> Tuple[int, Dict[str, float]]:
    """Seconds per stage of the training pipeline over ``--num-samples`` samples.

    Returns:
        tuple: ``(samples, {stage name: total seconds})``, ``'get_data_info'`` first.
    """
    from tqdm import tqdm

    dataset = _build_dataset(cfg.train_dataloader.dataset, 'training')
    transforms = dataset.pipeline.transforms
    names = ['get_data_info'] + [type(t).__name__ for t in transforms]
    seconds = [0.0] * len(names)
    total = args.num_samples
    dataset.prepare_data(0)  # warm-up, not counted: lazy tokenizer and file-client set-up
    for i in tqdm(range(total), desc='data loading', unit='sample'):
        start = time.perf_counter()
        results = dataset.get_data_info(i % len(dataset))
        now = time.perf_counter()
        seconds[0] += now - start
        for j, transform in enumerate(transforms, start=1):
            start = now
            results = transform(results)
            now = time.perf_counter()
            seconds[j] += now - start
            if results is None:
                raise InputValueError(f'{names[j]} dropped sample {i}; cannot time the pipeline.')
    stages: Dict[str, float] = {}
    for name, value in zip(names, seconds):  # the same transform twice: add them up
        stages[name] = stages.get(name, 0.0) + value
    return total, stages


# ---------------------------------------------------------------------------- main
def main(argv: Optional[Sequence[str]] = None) -> str:
    """Run the three measurements; prints the tables and, last, the summary line."""
    args = parse_args(argv)
    load_before = load_average()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise InputValueError('--device cuda: no CUDA device is available here; use --device '
                              'cpu.')
    cfg = load_config(args.config, args.cfg_options, init_scope=True)

    data_samples, stages = measure_data_loading(cfg, args)
    expressions, eval_wall, eval_model, eval_batch, workers = measure_evaluation(
        cfg, args, device)
    train_times, batch_size, img_size, notes = measure_training(cfg, args, device)

    p25, step, p75 = quartiles(train_times)
    train_it_per_s = 1.0 / step
    eval_per_s = expressions / eval_wall
    data_seconds = sum(stages.values())
    data_per_s = data_samples / data_seconds
    lines = [f'config {args.config}', machine_line(device, load_before)]
    lines += [f'note: {n}' for n in notes]
    lines.append(format_table(['measure', 'value', 'details'], [
        ['training iterations / s', f'{train_it_per_s:.2f}',
         f'train_step median {1e3 * step:.1f} ms (p25-p75 {1e3 * p25:.1f}-{1e3 * p75:.1f}), '
         f'{args.warmup} warm-up + {args.train_iters} steps, synthetic batch {batch_size} x '
         f'{img_size[0]}x{img_size[1]} (float32 on the CPU)'],
        ['training images / s', f'{train_it_per_s * batch_size:.1f}', ''],
        ['evaluation expressions / s', f'{eval_per_s:.1f}',
         f'{expressions} val expressions, batch {eval_batch}, {workers} workers, end to end'],
        ['evaluation expressions / s (model only)', f'{expressions / eval_model:.1f}',
         'time inside test_step'],
        ['data loading samples / s per worker', f'{data_per_s:.1f}',
         f'{data_samples} training samples through the pipeline in one process'],
    ]))
    lines.append(format_table(
        ['training pipeline stage', 'ms / sample', 'share'],
        [[name, f'{1e3 * value / data_samples:.2f}', f'{value / data_seconds:.3f}']
         for name, value in stages.items()]))
    lines.append('load average (1/5/15 min) after: ' + load_average())
    print('\n'.join(lines))
    last = (f'train_it_per_s={train_it_per_s:.4f} eval_expr_per_s={eval_per_s:.4f} '
            f'data_samples_per_s_per_worker={data_per_s:.4f}')
    print(last, flush=True)
    return last


if __name__ == '__main__':
    run_tool(main)
