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
  features of the batch), the stage-1 alignment pass (``AMLSegmentor._stage1``, without the
  text encoding it computes for stage 2 when the decoder has no visual prompts; that one is
  shown apart) and the AML training step they belong to. The last line is
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
        --aml-cfg "{'type': 'AlignmentAwareMasking', 'vis_channels': 256, 'text_channels': 384}"
    python tools/analysis_tools/benchmark_aml.py \
        configs/amlris/amlris_lite_minilm_synref-160x160.py --mode masking
    python tools/analysis_tools/benchmark_aml.py \
        configs/amlris/amlris_caris_swin-b_bert-base_2xb8-50e_refcoco-448x448.py \
        --mode flops --batch-size 1
"""
import argparse
import ast
import contextlib
import copy
import os
import os.path as osp
import statistics
import sys
import time
import weakref
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# Real tokens per expression (with [CLS]/[SEP]), cycled over the batch: RefCOCO-like lengths.
TOKEN_COUNTS = (9, 12, 7, 15, 10, 8, 20, 11)
MAX_TOKENS = 20
MiB = 1024.0**2

CPU_MEMORY_METHOD = ('CPU tensor memory: parameters + buffers + optimizer state, plus the peak '
                     'of the tensor storages allocated during one training step (tracked per '
                     'aten op with a TorchDispatchMode and freed through weakrefs; allocator '
                     'overhead and kernel scratch buffers are not included)')
CUDA_MEMORY_METHOD = ('CUDA torch.cuda.max_memory_allocated (reset before each step) minus '
                      'memory_allocated before the step, plus the parameters, buffers and '
                      'optimizer state of the measured model')


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
        help='override settings of the config, e.g. model.stage1_scale=0.5 model.aml.tau=0.3')
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
        from mmengine.config import Config
        aml = Config.fromfile(value).model.get('aml')
        if aml is None:
            raise SystemExit(f'--aml-cfg {value!r} is a config without model.aml.')
        return copy.deepcopy(aml)
    try:
        aml = ast.literal_eval(value)
    except (ValueError, SyntaxError) as err:
        example = "{'type': 'AlignmentAwareMasking', 'vis_channels': 256, 'text_channels': 384}"
        raise SystemExit(f'--aml-cfg must be a config file or a dict literal such as '
                         f'"{example}", got {value!r} ({err}).') from None
    if not isinstance(aml, dict) or 'type' not in aml:
        raise SystemExit(f'--aml-cfg must describe a dict with a "type", got {value!r}.')
    return aml


def load_bench_config(args: argparse.Namespace):
    """The config with the command line applied; exits clearly when no AML is configured."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmamlris  # noqa: F401  (registers every component)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.aml_cfg is not None:
        cfg.model.aml = _parse_aml_cfg(args.aml_cfg)
    if cfg.model.get('aml') is None:
        raise SystemExit(
            f'{args.config} has no model.aml, so there is no AML to compare with its '
            'baseline. Benchmark an AML config (configs/amlris/...), or give the AML settings '
            "with --aml-cfg \"{'type': 'AlignmentAwareMasking', 'vis_channels': C_v, "
            "'text_channels': C_t}\" (or --aml-cfg <config with model.aml>).")
    init_default_scope(cfg.get('default_scope', 'mmseg'))
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


def build_optim(model: nn.Module, cfg, device: torch.device, amp: bool):
    """The config's optimizer wrapper; float32 on the CPU, AMP on CUDA as configured."""
    from mmengine.optim import build_optim_wrapper

    from mmamlris.utils.amp import disable_amp, enable_amp

    cfg = copy.deepcopy(cfg)
    if device.type == 'cuda':
        if amp:
            enable_amp(cfg)
    else:
        if amp:
            raise SystemExit('--amp needs --device cuda: mmengine\'s AmpOptimWrapper does not '
                             'run on the CPU.')
        disable_amp(cfg)
    return build_optim_wrapper(model, cfg.optim_wrapper)


def config_img_size(cfg) -> Tuple[int, int]:
    """``(H, W)`` of the training pipeline's ``Resize`` (``scale`` is ``(w, h)``)."""
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    while 'pipeline' not in dataset and dataset.get('dataset'):
        dataset = dataset['dataset']
    for transform in dataset.get('pipeline', []):
        scale = transform.get('scale')
        if transform.get('type') == 'Resize' and scale is not None:
            width, height = (scale, scale) if isinstance(scale, int) else scale
            return int(height), int(width)
    raise SystemExit('Cannot read the image size from the training pipeline (no Resize with '
                     'a scale); give --img-size H W.')


def synthetic_batch(batch_size: int, img_size: Tuple[int, int], seed: int) -> dict:
    """A raw batch as the dataloader gives it: uint8 images, GT masks, 20 token slots."""
    from mmamlris.testing.ris_inputs import demo_ris_inputs
    return demo_ris_inputs(batch_size=batch_size, image_shapes=(tuple(img_size), ),
                           num_tokens=TOKEN_COUNTS, max_tokens=MAX_TOKENS, seed=seed)


# ---------------------------------------------------------------------------- timing
def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> Tuple[float, object]:
    """``(seconds, result)`` of one call of ``fn`` (synchronised on CUDA)."""
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - start, out


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes (synchronised on CUDA)."""
    return _timed(fn, device)[0]


def time_alternating(calls: Dict[str, Callable[[], object]], iters: int, warmup: int,
                     device: torch.device,
                     prepare: Optional[Callable[[str], None]] = None) -> Dict[str, List[float]]:
    """Time several callables in turn, the order reversed every iteration.

    Args:
        calls (dict[str, callable]): What to time, by name.
        iters (int): Measured calls of each.
        warmup (int): Unmeasured calls of each first.
        device (torch.device): Synchronised around each call on CUDA.
        prepare (callable, optional): ``prepare(name)`` runs untimed before each call.

    Returns:
        dict[str, list[float]]: Seconds of every measured call, by name.
    """
    names = list(calls)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for i in range(warmup + iters):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            if prepare is not None:
                prepare(name)
            seconds = time_call(calls[name], device)
            if i >= warmup:
                times[name].append(seconds)
    return times


@contextlib.contextmanager
def shadow_methods(replacements: Dict[Tuple[object, str], Callable]):
    """Replace methods of objects for the duration of the block.

    Each ``(obj, name): fn`` sets the instance attribute ``obj.name = fn``, which shadows the
    method, so every caller (``loss()`` of the model, ``nn.Module.__call__``) reaches ``fn``;
    the attributes are removed afterwards, and the methods are back.
    """
    for (obj, name), fn in replacements.items():
        setattr(obj, name, fn)
    try:
        yield
    finally:
        for obj, name in replacements:
            delattr(obj, name)


def quartiles(values: Sequence[float]) -> Tuple[float, float, float]:
    """``(p25, median, p75)`` of the values."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    p25, p50, p75 = statistics.quantiles(values, n=4, method='inclusive')
    return p25, p50, p75


# ---------------------------------------------------------------------------- memory
class TensorMemoryTracker(TorchDispatchMode):
    """Peak bytes of the tensor storages created while the mode is active.

    Every aten op goes through :meth:`__torch_dispatch__` (backward ops too: the autograd
    engine runs them in this thread on the CPU). An output storage that is none of the op's
    input storages is a new allocation; it is counted until its Python storage object dies
    (storages keep their Python object as long as they live, so a weakref finalizer sees the
    free). Storages created before the mode (parameters, optimizer state) are not counted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live_bytes = 0
        self.peak_bytes = 0
        self._sizes: Dict[int, int] = {}

    def _free(self, key: int) -> None:
        self.live_bytes -= self._sizes.pop(key, 0)

    def _track(self, storage: torch.UntypedStorage, inputs: set) -> None:
        key = storage._cdata
        nbytes = storage.nbytes()
        if key in self._sizes:  # a storage of ours, maybe resized in place
            self.live_bytes += nbytes - self._sizes[key]
            self._sizes[key] = nbytes
        elif key not in inputs:
            self._sizes[key] = nbytes
            self.live_bytes += nbytes
            weakref.finalize(storage, self._free, key)
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = {t.untyped_storage()._cdata for t in tree_flatten((args, kwargs))[0]
                  if isinstance(t, torch.Tensor)}
        out = func(*args, **kwargs)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._track(t.untyped_storage(), inputs)
        return out


def resident_bytes(model: nn.Module, optim_wrapper) -> int:
    """Bytes of the model's parameters, buffers, gradients and optimizer state (storages once)."""
    tensors = list(model.parameters()) + list(model.buffers())
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    for state in optim_wrapper.optimizer.state.values():
        tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
    storages = {}
    for t in tensors:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def step_peak_bytes(step: Callable[[], object], model: nn.Module, optim_wrapper,
                    device: torch.device) -> int:
    """Peak memory of one training step: resident state plus the step's peak allocation."""
    resident = resident_bytes(model, optim_wrapper)
    if device.type == 'cuda':
        _sync(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        _sync(device)
        return resident + torch.cuda.max_memory_allocated(device) - before
    tracker = TensorMemoryTracker()
    with tracker:
        step()
    return resident + tracker.peak_bytes


# ---------------------------------------------------------------------------- report
def load_average() -> str:
    """The 1, 5 and 15 minute load averages of the machine."""
    return ', '.join(f'{v:.2f}' for v in os.getloadavg())


def machine_line(device: torch.device, load_before: str) -> str:
    """Device, threads and the load average before measuring, for the header."""
    if device.type == 'cuda':
        where = f'cuda ({torch.cuda.get_device_name(device)})'
    else:
        where = f'cpu ({os.cpu_count()} cores)'
    return (f'device {where}, torch {torch.__version__}, threads {torch.get_num_threads()} '
            f'(OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}), '
            f'load average (1/5/15 min) before {load_before}')


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table with aligned columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return '| ' + ' | '.join(str(c).ljust(w) for c, w in zip(cells, widths)) + ' |'

    rule = '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    return '\n'.join([line(header), rule, *[line(r) for r in rows]])


def _ms(values: Sequence[float]) -> str:
    p25, p50, p75 = quartiles(values)
    return f'{1e3 * p50:.1f} ({1e3 * p25:.1f}-{1e3 * p75:.1f})'


@contextlib.contextmanager
def _quiet():
    """Silence mmengine's INFO logs and Hugging Face's progress bars while building."""
    from mmengine.logging import MMLogger
    from transformers.utils import logging as hf_logging

    logger = MMLogger.get_current_instance()
    level = logger.level
    bars = hf_logging.is_progress_bar_enabled()
    logger.setLevel('WARNING')
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        logger.setLevel(level)
        if bars:
            hf_logging.enable_progress_bar()


# ---------------------------------------------------------------------------- modes
class _Bench:
    """Models, optimizers and the batch shared by both modes."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.load_before = load_average()
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
        if device == 'cuda' and not torch.cuda.is_available():
            raise SystemExit('--device cuda: no CUDA device is available here; use --device '
                             'cpu.')
        self.device = torch.device(device)
        self.cfg = load_bench_config(args)
        from mmamlris.testing.tiny_configs import offline_model_cfg
        model_cfg, self.notes = offline_model_cfg(self.cfg.model)
        with _quiet():
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
            f'{aml.aml_feat_index}',
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
        ['train step, ms: median (p25-p75)', _ms(step_times['baseline']),
         _ms(step_times['aml']), f'{time_ratio:.3f}'],
        ['train iterations / s', f'{1 / med["baseline"]:.2f}', f'{1 / med["aml"]:.2f}', ''],
        ['peak memory, MiB', f'{memory["baseline"] / MiB:.1f}', f'{memory["aml"] / MiB:.1f}',
         f'{memory_ratio:.3f}'],
        ['  of which weights, buffers, optimizer state', f'{resident["baseline"] / MiB:.1f}',
         f'{resident["aml"] / MiB:.1f}', ''],
        ['  of which the step\'s peak on top (activations, gradients)',
         f'{activations["baseline"] / MiB:.1f}', f'{activations["aml"] / MiB:.1f}',
         f'{activations["aml"] / activations["baseline"]:.3f}'],
        ['inference (test_step), ms: median (p25-p75)', _ms(infer_times['baseline']),
         _ms(infer_times['aml']), f'{infer_ratio:.3f}'],
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


def _masking_inputs(bench: _Bench) -> Tuple[torch.Tensor, ...]:
    """Normalised images and the stage-1 features the masking op receives in training."""
    from mmamlris.models.data_preprocessor import stack_text_inputs

    model = bench.aml_model
    data = model.data_preprocessor(copy.deepcopy(bench.batch), True)
    inputs, samples = data['inputs'], data['data_samples']
    input_ids, attention_mask = stack_text_inputs(samples)
    amp = dict(enabled=False) if bench.amp_dtype is None else dict(dtype=bench.amp_dtype)
    with torch.no_grad(), torch.autocast(device_type=bench.device.type, **amp):
        feats, text1, _ = model._stage1(inputs, input_ids, attention_mask, samples, {})
    return inputs, feats[model.aml_feat_index], text1[0], text1[1]


def run_masking_mode(bench: _Bench) -> str:
    """The masking op and stage 1 alone, against the AML training step."""
    args, device, model = bench.args, bench.device, bench.aml_model
    inputs, vis_feat, text_feat, text_mask = _masking_inputs(bench)
    masking = time_alternating(
        {'masking': lambda: model.aml(inputs, vis_feat, text_feat, text_mask)}, args.iters,
        args.warmup, device)['masking']

    # loss() and the modules call the timed versions (see shadow_methods).
    stage1_times: List[float] = []
    shared_text_times: List[float] = []  # text encoding in _stage1 that stage 2 reuses
    stage1, text_forward = model._stage1, model.text_encoder.forward
    text_in_stage1: List[float] = []  # text encoder calls with gradient in the running _stage1

    def timed_stage1(*a, **kw):
        text_in_stage1.clear()
        seconds, out = _timed(lambda: stage1(*a, **kw), device)
        stage1_times.append(seconds)
        # out[2]: the stage-2 text features, when _stage1 computed them for both stages
        shared_text_times.append(sum(text_in_stage1) if out[2] is not None else 0.0)
        return out

    def timed_text(*a, **kw):
        if not torch.is_grad_enabled():
            return text_forward(*a, **kw)
        seconds, out = _timed(lambda: text_forward(*a, **kw), device)
        text_in_stage1.append(seconds)
        return out

    with shadow_methods({(model, '_stage1'): timed_stage1,
                         (model.text_encoder, 'forward'): timed_text}):
        step = time_alternating({'aml': bench.train_call('aml')}, args.iters, args.warmup,
                                device, prepare=bench.prepare)['aml']
    alignment_times = [total - shared for total, shared in zip(
        stage1_times[args.warmup:], shared_text_times[args.warmup:])]
    step_med = statistics.median(step)
    masking_med = statistics.median(masking)
    stage1_med = statistics.median(alignment_times)
    rows = [
        ['masking op model.aml (PMME + AFM)', _ms(masking), f'{masking_med / step_med:.3f}'],
        ['stage 1 (AMLSegmentor._stage1): ' + (
            'forward with gradient and loss (stage1_loss_weight > 0)'
            if model.stage1_loss_weight > 0 else 'no-grad alignment pass'),
         _ms(alignment_times), f'{stage1_med / step_med:.3f}'],
    ]
    shared = shared_text_times[args.warmup:]
    if any(shared):
        rows.append(['  not counted: text encoding in _stage1 reused by stage 2 (grad)',
                     _ms(shared), f'{statistics.median(shared) / step_med:.3f}'])
    rows.append(['AML train step', _ms(step), '1.000'])
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


def count_flops(fn: Callable[[], object],
                targets: Optional[Dict[str, Tuple[object, str]]] = None
                ) -> Tuple[int, Dict[str, int]]:
    """FLOPs of one call of ``fn``, and of the calls of ``targets`` made inside it.

    Args:
        fn (callable): What to count.
        targets (dict[str, tuple[object, str]], optional): ``name: (obj, method name)``;
            the FLOPs of the calls of ``obj.<method>`` during ``fn`` are summed under ``name``.

    Returns:
        tuple[int, dict[str, int]]: The total, and the part of each target.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    parts = {name: 0 for name in targets or {}}

    def counted(name: str, method: Callable) -> Callable:

        def call(*args, **kwargs):
            before = counter.get_total_flops()
            out = method(*args, **kwargs)
            parts[name] += counter.get_total_flops() - before
            return out

        return call

    wrappers = {(obj, attr): counted(name, getattr(obj, attr))
                for name, (obj, attr) in (targets or {}).items()}
    with shadow_methods(wrappers), counter:
        fn()
    return counter.get_total_flops(), parts


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
    step['aml'], parts = count_flops(
        bench.train_call('aml'),
        dict(stage1=(model, '_stage1'), masking=(model.aml, 'forward')))
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
    lines.append(f'AMLSegmentor._stage1 as called: {g(parts["stage1"])} GFLOPs (when the '
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
    main()
