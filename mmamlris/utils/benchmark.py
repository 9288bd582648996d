# Copyright (c) mmamlris contributors. All rights reserved.
"""Timing, memory and FLOP helpers of the benchmark tools (``tools/analysis_tools/``).

Timing alternates the measured callables and reverses their order every iteration, so that
drift of a shared machine hits all of them (:func:`time_alternating`); peak memory is CUDA's
allocator peak or, on the CPU, the tensor storages tracked per aten op
(:class:`TensorMemoryTracker`); FLOPs are counted by ``torch.utils.flop_counter``
(:func:`count_flops`). Reports are plain text tables (:func:`format_table`).
"""
import contextlib
import copy
import os
import statistics
import time
import weakref
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .config import find_dataset_cfg
from .errors import InputValueError

__all__ = [
    'MiB', 'CPU_MEMORY_METHOD', 'CUDA_MEMORY_METHOD', 'build_optim', 'config_img_size',
    'timed', 'time_alternating', 'shadow_methods', 'quartiles', 'TensorMemoryTracker',
    'resident_bytes', 'step_peak_bytes', 'load_average', 'machine_line', 'format_table',
    'ms_cell', 'quiet', 'count_flops'
]

MiB = 1024.0**2

CPU_MEMORY_METHOD = ('CPU tensor memory: parameters + buffers + optimizer state, plus the peak '
                     'of the tensor storages allocated during one training step (tracked per '
                     'aten op with a TorchDispatchMode and freed through weakrefs; allocator '
                     'overhead and kernel scratch buffers are not included)')
CUDA_MEMORY_METHOD = ('CUDA torch.cuda.max_memory_allocated (reset before each step) minus '
                      'memory_allocated before the step, plus the parameters, buffers and '
                      'optimizer state of the measured model')


def build_optim(model: nn.Module, cfg, device: torch.device, amp: bool):
    """The config's optimizer wrapper; float32 on the CPU, AMP on CUDA as configured."""
    from mmengine.optim import build_optim_wrapper

    from .amp import disable_amp, enable_amp

    cfg = copy.deepcopy(cfg)
    if device.type == 'cuda':
        if amp:
            enable_amp(cfg)
    else:
        if amp:
            raise InputValueError('--amp needs --device cuda: mmengine\'s AmpOptimWrapper '
                                  'does not run on the CPU.')
        disable_amp(cfg)
    return build_optim_wrapper(model, cfg.optim_wrapper)


def config_img_size(cfg) -> Tuple[int, int]:
    """``(H, W)`` of the training pipeline's ``Resize`` (``scale`` is ``(w, h)``) or
    ``LetterBox`` (``size`` is ``(h, w)``)."""
    dataset = find_dataset_cfg(cfg.get('train_dataloader', {}).get('dataset', {}), 'pipeline')
    for transform in (dataset or {}).get('pipeline', []):
        scale = transform.get('scale')
        if transform.get('type') == 'Resize' and scale is not None:
            width, height = (scale, scale) if isinstance(scale, int) else scale
            return int(height), int(width)
        if transform.get('type') == 'LetterBox':
            size = transform.get('size', 448)
            height, width = (size, size) if isinstance(size, int) else size
            return int(height), int(width)
    raise InputValueError('Cannot read the image size from the training pipeline (no Resize '
                          'with a scale, no LetterBox); give --img-size H W.')


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> Tuple[float, object]:
    """``(seconds, result)`` of one call of ``fn`` (synchronised on CUDA)."""
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - start, out


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
            seconds, _ = timed(calls[name], device)
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


def ms_cell(values: Sequence[float]) -> str:
    p25, p50, p75 = quartiles(values)
    return f'{1e3 * p50:.1f} ({1e3 * p25:.1f}-{1e3 * p75:.1f})'


@contextlib.contextmanager
def quiet():
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
