# Copyright (c) mmamlris contributors. All rights reserved.
"""Cost of alignment-aware masking: the same model with and without AML, step by step.

Builds the config's model twice from the same weights, once with ``aml=None`` (the baseline)
and once with the config's ``model.aml``, and measures on one synthetic batch at the config's
image size (random images and token ids, as :func:`mmamlris.testing.ris_inputs.demo_ris_inputs`
makes them):

* ``--mode step`` (default): the training step (data preprocessing, loss, backward and
  optimizer step: ``model.train_step``), its peak memory (one more step per model, after the
  timed ones), and inference (``model.test_step`` under ``torch.no_grad()``, float32). The
  two models run alternately, one step each, the order swapped every iteration, so that drift
  of a shared machine hits both; medians are reported. The last line is
  ``time_ratio=<aml/baseline> memory_ratio=<aml/baseline> infer_ratio=<aml/baseline>``.
* ``--mode masking``: the masking op alone (``model.aml(...)``: PMME + AFM, on stage-1
  features of the batch), stage 1 with the masking (``AMLSegmentor._stage1_forward`` and
  ``_mask`` as ``loss`` calls them, without the text encoding stage 1 computes for stage 2
  when the decoder has no visual prompts; that one is shown apart) and the AML training step
  they belong to. The last line is
  ``masking_ms=<median> masking_share=<masking / step> stage1_share=<stage 1 / step>``.
* ``--mode flops``: the floating-point operations of one training step of each model and of
  one inference, counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products,
  convolutions and attention, forward and backward; element-wise ops, normalisations and the
  sampling inside mmcv's deformable attention are not counted), and the part of the AML step
  that stage 1 and the masking op take. Counts do not depend on the machine or its load, so
  they estimate the time ratio of a step made of large matrix products (Swin-B / BERT-base
  CARIS on a GPU) where that GPU is not at hand; they are not a timing. The ratio does not
  depend on the batch size (every operation is per sample), so ``--batch-size 1`` gives the
  ratio of the config's batch. The last line is ``flop_ratio=<aml/baseline>
  infer_flop_ratio=<aml/baseline> stage1_flop_share=<stage 1 / AML step>``.

Timings are medians over ``--iters`` after ``--warmup``; on a shared machine compare ratios
measured in one run, and mind the load average printed before and after.

Pretrained files the config names but this machine lacks (Swin-B, BERT-base) are replaced by a
random initialisation of the same architecture: speed and memory do not depend on the weights.
On the CPU, a mixed-precision optimizer wrapper of the config becomes its float32 counterpart
(``mmamlris.utils.amp.disable_amp``; mmengine's AMP needs an accelerator); on CUDA the
config's AMP settings are kept, and ``--amp`` turns fp16 on as ``tools/train.py --amp`` does.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` (reset before the measured step);
on the CPU, where torch keeps no allocator statistics, the tensor storages that the dispatcher
creates during one step are tracked (:class:`TensorMemoryTracker`; the step runs slower under
it, which is why it is not a timed one). Both are reported as *the model's parameters,
buffers and optimizer state* plus *the peak of what the step allocates on top* (activations,
gradients, temporaries), so that the other model, which lives in the same process, does not
count.

Examples::

    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_aml.py \
        configs/amlris/amlris_lite_minilm_synref-160x160.py --iters 20 --warmup 3
    python tools/analysis_tools/benchmark_aml.py \
        configs/amlris/amlris_caris_swin-b_bert-base_2xb8-50e_refcoco-448x448.py \
        --batch-size 2 --img-size 224 224 --iters 5 --warmup 1
    python tools/analysis_tools/benchmark_aml.py configs/lite/lite_minilm_synref-160x160.py \
        --aml-cfg configs/amlris/amlris_lite_minilm_synref-160x160.py
    python tools/analysis_tools/benchmark_aml.py \
        configs/amlris/amlris_lite_minilm_synref-160x160.py --mode masking
    python tools/analysis_tools/benchmark_aml.py \
        configs/amlris/amlris_caris_swin-b_bert-base_2xb8-50e_refcoco-448x448.py \
        --mode flops --batch-size 1
"""
import argparse
import ast
import copy
import os.path as osp
import statistics
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import nn

from mmamlris.utils import InputValueError, load_config, offline_model_cfg, run_tool
from mmamlris.testing.ris_inputs import MAX_TOKENS, synthetic_batch
from mmamlris.utils.benchmark import (CPU_MEMORY_METHOD, CUDA_MEMORY_METHOD, MiB, build_optim,
                                      config_img_size, count_flops, format_table,
                                      load_average, machine_line, ms_cell, quiet,
                                      resident_bytes, shadow_methods, step_peak_bytes,
                                      time_alternating, timed)


# ---------------------------------------------------------------------------- arguments
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        description='Training-step time, peak memory and inference time of a model with and '
        'without alignment-aware masking')
    parser.add_argument('config', help='config file (with model.aml, or give --aml-cfg)')
    parser.add_argument('--mode', choices=['step', 'masking', 'flops'], default='step',
                        help="'step': train step, memory and inference, baseline vs AML; "
                        "'masking': the masking op and stage 1 alone, against the AML step; "
                        "'flops': counted floating-point operations of the same (no timing)")
    parser.add_argument('--iters', type=int, default=10,
                        help='measured iterations per model (the median is reported)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='unmeasured iterations per model before measuring')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='images per step (default: train_dataloader.batch_size)')
    parser.add_argument('--img-size', type=int, nargs=2, metavar=('H', 'W'), default=None,
                        help='input size (default: the Resize scale of the training pipeline)')
    parser.add_argument('--device', default=None, choices=['cpu', 'cuda'],
                        help='device (default: cuda if available)')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch CPU threads (default: torch's own, i.e. OMP_NUM_THREADS "
                        'or the core count)')
    parser.add_argument('--amp', action='store_true',
                        help='fp16 mixed precision as tools/train.py --amp (CUDA only)')
    parser.add_argument('--aml-cfg', default=None,
                        help='the AML config to compare with, when the config has no model.aml '
                        "or to replace it: a dict literal (\"{'type': "
                        "'AlignmentAwareMasking', 'vis_channels': 256, ...}\") or a config "
                        'file whose model.aml is taken')
    parser.add_argument('--seed', type=int, default=0, help='seed of weights and batch')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. model.stage1_scale=0.5 '
        'model.aml.filter.tau=0.3')
    args = parser.parse_args(argv)
    for name in ('iters', 'batch_size', 'threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1, got {value}.')
    if args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}.')
    if args.img_size is not None and min(args.img_size) < 32:
        parser.error(f'--img-size must be at least 32 x 32 (one stride-32 cell), got '
                     f'{args.img_size}.')
    if not osp.isfile(args.config):
        parser.error(f'config file {args.config!r} does not exist.')
    return args


def _parse_aml_cfg(value: str) -> dict:
    """``--aml-cfg``: a dict literal, or a config file whose ``model.aml`` is taken."""
    if osp.isfile(value):
        aml = load_config(value).model.get('aml')
        if aml is None:
            raise InputValueError(f'--aml-cfg {value!r} is a config without model.aml.')
        return copy.deepcopy(aml)
    try:
        aml = ast.literal_eval(value)
    except (ValueError, SyntaxError) as err:
        example = "{'type': 'AlignmentAwareMasking', 'vis_channels': 256, 'text_channels': 384}"
        raise InputValueError(f'--aml-cfg must be a config file or a dict literal such as '
                              f'"{example}", got {value!r} ({err}).') from None
    if not isinstance(aml, dict) or 'type' not in aml:
        raise InputValueError(f'--aml-cfg must describe a dict with a "type", got {value!r}.')
    return aml


def load_bench_config(args: argparse.Namespace):
    """The config with the command line applied; a clear error when no AML is configured."""
    cfg = load_config(args.config, args.cfg_options, init_scope=True)
    if args.aml_cfg is not None:
        cfg.model.aml = _parse_aml_cfg(args.aml_cfg)
    if cfg.model.get('aml') is None:
        raise InputValueError(
            f'{args.config} has no model.aml, so there is no AML to compare with its '
            'baseline. Benchmark an AML config (configs/amlris/...), or give the AML settings '
            'with --aml-cfg <config with model.aml> (or a dict literal of an '
            'AlignmentAwareMasking config).')
    return cfg


# ---------------------------------------------------------------------------- building
def build_model_pair(model_cfg, device: torch.device, seed: int) -> Tuple[nn.Module, nn.Module]:
    """The baseline (``aml=None``) and the AML model, with the same weights, in train mode."""
    from mmamlris.registry import MODELS

    base_cfg = copy.deepcopy(model_cfg)
    base_cfg.aml = None
    torch.manual_seed(seed)
    baseline = MODELS.build(base_cfg)
    baseline.init_weights()
    aml_model = MODELS.build(copy.deepcopy(model_cfg))
    missing, unexpected = aml_model.load_state_dict(baseline.state_dict(), strict=False)
    stray = [k for k in missing if not k.startswith('aml.')] + list(unexpected)
    if stray:
        raise RuntimeError(f'The AML model and its baseline differ beyond model.aml: {stray}')
    return baseline.to(device).train(), aml_model.to(device).train()


# ---------------------------------------------------------------------------- modes
class _Bench:
    """Models, optimizers and the batch shared by both modes."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.load_before = load_average()
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
        if device == 'cuda' and not torch.cuda.is_available():
            raise InputValueError('--device cuda: no CUDA device is available here; use '
                                  '--device cpu.')
        self.device = torch.device(device)
        self.cfg = load_bench_config(args)
        model_cfg, self.notes = offline_model_cfg(self.cfg.model)
        with quiet():
            self.baseline, self.aml_model = build_model_pair(model_cfg, self.device, args.seed)
            self.optims = dict(
                baseline=build_optim(self.baseline, self.cfg, self.device, args.amp),
                aml=build_optim(self.aml_model, self.cfg, self.device, args.amp))
        self.models = dict(baseline=self.baseline, aml=self.aml_model)
        self.batch_size = args.batch_size or self.cfg.train_dataloader.batch_size
        self.img_size = tuple(args.img_size or config_img_size(self.cfg))
        self.batch = synthetic_batch(self.batch_size, self.img_size, args.seed)
        # The autocast dtype of the training step (None: float32), as the optimizer wrapper has;
        # an AMP wrapper without dtype autocasts to float16.
        self.amp_dtype = None
        if hasattr(self.optims['aml'], 'cast_dtype'):
            self.amp_dtype = self.optims['aml'].cast_dtype or torch.float16
        self.args = args
        self._data: Optional[dict] = None

    def header(self) -> List[str]:
        aml = self.aml_model
        precision = 'float32' if self.amp_dtype is None else f'AMP {self.amp_dtype}'
        if self.args.mode == 'flops':
            repeats = (f'{self.args.warmup} warm-up steps, then one counted training step '
                       'and one counted inference per model')
        else:
            repeats = 'per model, alternating' if self.args.mode == 'step' else 'of each part'
            repeats = (f'{self.args.warmup} warm-up + {self.args.iters} measured iterations '
                       f'{repeats}')
        lines = [
            f'config {self.args.config}',
            f'batch {self.batch_size} x {self.img_size[0]}x{self.img_size[1]}, '
            f'{MAX_TOKENS} token slots; training {precision}, inference float32; {repeats}',
            f'AML: {type(aml.aml).__name__}({aml.aml.extra_repr()}), stage1_scale '
            f'{aml.stage1_scale}, stage1_loss_weight {aml.stage1_loss_weight}, feature level '
            f'{aml.aml.scorer.in_index}',
            machine_line(self.device, self.load_before),
        ]
        lines += [f'note: {n}' for n in self.notes]
        return lines

    def prepare(self, name: str) -> None:
        """A fresh copy of the raw batch (the data preprocessor fills in its metainfo)."""
        self._data = copy.deepcopy(self.batch)

    def train_call(self, name: str) -> Callable[[], object]:
        return lambda: self.models[name].train_step(self._data, self.optims[name])

    def test_call(self, name: str) -> Callable[[], object]:

        def call():
            with torch.no_grad():
                return self.models[name].test_step(self._data)

        return call


def run_step_mode(bench: _Bench) -> str:
    """Train step, peak memory and inference of both models; returns the last line."""
    args, device = bench.args, bench.device
    names = ('baseline', 'aml')
    step_times = time_alternating({n: bench.train_call(n) for n in names}, args.iters,
                                  args.warmup, device, prepare=bench.prepare)
    memory, resident = {}, {}
    for name in names:  # one tracked step each, after the warm-up (optimizer state exists)
        bench.prepare(name)
        resident[name] = resident_bytes(bench.models[name], bench.optims[name])
        memory[name] = step_peak_bytes(bench.train_call(name), bench.models[name],
                                       bench.optims[name], device)
    for model in bench.models.values():
        model.eval()
    infer_times = time_alternating({n: bench.test_call(n) for n in names}, args.iters,
                                   args.warmup, device, prepare=bench.prepare)
    for model in bench.models.values():
        model.train()

    activations = {n: memory[n] - resident[n] for n in names}
    med = {n: statistics.median(step_times[n]) for n in names}
    infer_med = {n: statistics.median(infer_times[n]) for n in names}
    time_ratio = med['aml'] / med['baseline']
    memory_ratio = memory['aml'] / memory['baseline']
    infer_ratio = infer_med['aml'] / infer_med['baseline']
    rows = [
        ['train step, ms: median (p25-p75)', ms_cell(step_times['baseline']),
         ms_cell(step_times['aml']), f'{time_ratio:.3f}'],
        ['train iterations / s', f'{1 / med["baseline"]:.2f}', f'{1 / med["aml"]:.2f}', ''],
        ['peak memory, MiB', f'{memory["baseline"] / MiB:.1f}', f'{memory["aml"] / MiB:.1f}',
         f'{memory_ratio:.3f}'],
        ['  of which weights, buffers, optimizer state', f'{resident["baseline"] / MiB:.1f}',
         f'{resident["aml"] / MiB:.1f}', ''],
        ['  of which the step\'s peak on top (activations, gradients)',
         f'{activations["baseline"] / MiB:.1f}', f'{activations["aml"] / MiB:.1f}',
         f'{activations["aml"] / activations["baseline"]:.3f}'],
        ['inference (test_step), ms: median (p25-p75)', ms_cell(infer_times['baseline']),
         ms_cell(infer_times['aml']), f'{infer_ratio:.3f}'],
    ]
    lines = bench.header()
    lines.append(format_table(['measure', 'baseline (aml=None)', 'AML', 'AML / baseline'],
                              rows))
    lines.append('memory method: ' + (CUDA_MEMORY_METHOD
                                      if device.type == 'cuda' else CPU_MEMORY_METHOD))
    lines.append('load average (1/5/15 min) after: ' + load_average())
    print('\n'.join(lines))
    return (f'time_ratio={time_ratio:.4f} memory_ratio={memory_ratio:.4f} '
            f'infer_ratio={infer_ratio:.4f}')


def _stage1_method(model) -> str:
    """The method that runs stage 1 in ``model.loss`` (the released recipe has its own)."""
    return '_stage1_forward_train' if model.stage1_loss_weight > 0 else '_stage1_forward'


def _masking_inputs(bench: _Bench) -> Tuple[torch.Tensor, ...]:
    """The arguments the masking op receives in training (read by a forward hook)."""
    model = bench.aml_model
    data = model.data_preprocessor(copy.deepcopy(bench.batch), True)
    amp = dict(enabled=False) if bench.amp_dtype is None else dict(dtype=bench.amp_dtype)
    seen: List[tuple] = []
    handle = model.aml.register_forward_hook(lambda module, args, out: seen.append(args))
    try:
        with torch.no_grad(), torch.autocast(device_type=bench.device.type, **amp):
            model.mask_batch(data['inputs'], data['data_samples'])
    finally:
        handle.remove()
    return seen[0]


def run_masking_mode(bench: _Bench) -> str:
    """The masking op and stage 1 alone, against the AML training step."""
    args, device, model = bench.args, bench.device, bench.aml_model
    masking_args = _masking_inputs(bench)
    inputs, feats, text_feat = masking_args[:3]
    vis_feat = feats[model.aml.scorer.in_index]
    masking = time_alternating({'masking': lambda: model.aml(*masking_args)}, args.iters,
                               args.warmup, device)['masking']

    # loss() and the modules call the timed versions (see shadow_methods).
    stage1_times: List[float] = []  # stage 1 and the masking of each step
    shared_text_times: List[float] = []  # text encoding in stage 1 that stage 2 reuses
    stage1_name = _stage1_method(model)
    stage1, mask = getattr(model, stage1_name), model._mask
    text_forward = model.text_encoder.forward
    text_in_stage1: List[float] = []  # text encoder calls with gradient in stage 1

    def timed_stage1(*a, **kw):
        text_in_stage1.clear()
        seconds, out = timed(lambda: stage1(*a, **kw), device)
        stage1_times.append(seconds)
        # the stage-2 text features, when stage 1 computed them for both stages
        shared_text_times.append(sum(text_in_stage1) if model._reuses_stage1_text else 0.0)
        return out

    def timed_mask(*a, **kw):
        seconds, out = timed(lambda: mask(*a, **kw), device)
        stage1_times[-1] += seconds
        return out

    def timed_text(*a, **kw):
        if not torch.is_grad_enabled():
            return text_forward(*a, **kw)
        seconds, out = timed(lambda: text_forward(*a, **kw), device)
        text_in_stage1.append(seconds)
        return out

    with shadow_methods({(model, stage1_name): timed_stage1, (model, '_mask'): timed_mask,
                         (model.text_encoder, 'forward'): timed_text}):
        step = time_alternating({'aml': bench.train_call('aml')}, args.iters, args.warmup,
                                device, prepare=bench.prepare)['aml']
    alignment_times = [total - shared for total, shared in zip(
        stage1_times[args.warmup:], shared_text_times[args.warmup:])]
    step_med = statistics.median(step)
    masking_med = statistics.median(masking)
    stage1_med = statistics.median(alignment_times)
    rows = [
        ['masking op model.aml (PMME + AFM)', ms_cell(masking), f'{masking_med / step_med:.3f}'],
        [f'stage 1 and masking (AMLSegmentor.{stage1_name} + _mask): ' + (
            'forward with gradient and loss (stage1_loss_weight > 0)'
            if model.stage1_loss_weight > 0 else 'no-grad alignment pass'),
         ms_cell(alignment_times), f'{stage1_med / step_med:.3f}'],
    ]
    shared = shared_text_times[args.warmup:]
    if any(shared):
        rows.append(['  not counted: text encoding in stage 1 reused by stage 2 (grad)',
                     ms_cell(shared), f'{statistics.median(shared) / step_med:.3f}'])
    rows.append(['AML train step', ms_cell(step), '1.000'])
    lines = bench.header()
    lines.append(f'masking op inputs: images {tuple(inputs.shape)}, features '
                 f'{tuple(vis_feat.shape)} {vis_feat.dtype}, tokens {tuple(text_feat.shape)}')
    lines.append(format_table(['part', 'ms: median (p25-p75)', 'share of the step'], rows))
    if device.type == 'cuda':
        lines.append('note: stage 1 is timed with a synchronisation before and after it, '
                     'which the plain training step does not have')
    lines.append('load average (1/5/15 min) after: ' + load_average())
    print('\n'.join(lines))
    return (f'masking_ms={1e3 * masking_med:.4f} masking_share={masking_med / step_med:.4f} '
            f'stage1_share={stage1_med / step_med:.4f}')


def run_flops_mode(bench: _Bench) -> str:
    """Counted FLOPs of the training step and inference of both models."""
    args, model = bench.args, bench.aml_model
    names = ('baseline', 'aml')
    time_alternating({n: bench.train_call(n) for n in names}, 0, args.warmup, bench.device,
                     prepare=bench.prepare)  # warm-up only
    step, infer = {}, {}
    bench.prepare('baseline')
    step['baseline'], _ = count_flops(bench.train_call('baseline'))
    bench.prepare('aml')
    stage1_name = _stage1_method(model)
    step['aml'], parts = count_flops(
        bench.train_call('aml'),
        dict(stage1=(model, stage1_name), masking=(model.aml, 'forward')))
    for m in bench.models.values():
        m.eval()
    for name in names:
        bench.prepare(name)
        infer[name], _ = count_flops(bench.test_call(name))
    for m in bench.models.values():
        m.train()

    extra = step['aml'] - step['baseline']
    flop_ratio = step['aml'] / step['baseline']
    infer_ratio = infer['aml'] / infer['baseline']
    stage1_share = extra / step['aml']

    def g(flops: float) -> str:
        return f'{flops / 1e9:.2f}'

    rows = [
        ['train step (forward + backward), GFLOPs', g(step['baseline']), g(step['aml']),
         f'{flop_ratio:.3f}'],
        ['  AML extra (stage 1 + masking op)', '', g(extra), f'{stage1_share:.3f} of the step'],
        ['  masking op model.aml (PMME + AFM)', '', g(parts['masking']),
         f'{parts["masking"] / step["aml"]:.4f} of the step'],
        ['inference (test_step), GFLOPs', g(infer['baseline']), g(infer['aml']),
         f'{infer_ratio:.3f}'],
    ]
    lines = bench.header()
    lines.append(format_table(['measure', 'baseline (aml=None)', 'AML', 'AML / baseline'],
                              rows))
    lines.append(f'AMLSegmentor.{stage1_name} as called: {g(parts["stage1"])} GFLOPs (when the '
                 'decoder adds no visual prompts to the text, this includes the text encoding '
                 'with gradient that stage 2 reuses, which the baseline step has too; "AML '
                 'extra" is the difference of the two steps)')
    lines.append('counted by torch.utils.flop_counter.FlopCounterMode: matrix products, '
                 'convolutions and attention (forward and backward); element-wise ops, '
                 'normalisations and deformable-attention sampling are not counted. A count, '
                 'not a timing: the same on every machine.')
    print('\n'.join(lines))
    return (f'flop_ratio={flop_ratio:.4f} infer_flop_ratio={infer_ratio:.4f} '
            f'stage1_flop_share={stage1_share:.4f}')


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Run the benchmark; prints the table and, last, the summary line (also returned)."""
    args = parse_args(argv)
    bench = _Bench(args)
    modes = dict(step=run_step_mode, masking=run_masking_mode, flops=run_flops_mode)
    last = modes[args.mode](bench)
    print(last, flush=True)
    return last


if __name__ == '__main__':
    run_tool(main)
