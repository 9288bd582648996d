# Copyright (c) mmamlris contributors. All rights reserved.
"""The ablation's records: one small JSON line per finished (variant, seed), and the machine
each run trained on.

A config and seed train differently from one CPU to another (floating-point kernels), so a
records file holds the runs of one machine, and a paired difference is taken only between runs
of one seed *and* one machine (:func:`pair_key`).
"""
import json
import os.path as osp
import platform
import re
from typing import Dict, Optional

from mmamlris.utils import InputValueError, atomic_write

__all__ = ['load_records', 'save_records', 'machine_name', 'short_machine', 'check_machine',
           'pair_key']


def load_records(path: Optional[str]) -> Dict[tuple, dict]:
    """``{(variant, seed): record}`` from a records file (empty if absent).

    Raises:
        InputValueError: a line is not a run record, or a run is recorded twice.
    """
    records: Dict[tuple, dict] = {}
    if not path or not osp.isfile(path):
        return records
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = (record['variant'], record['seed'])
            except (ValueError, KeyError, TypeError) as err:
                raise InputValueError(f'{path}, line {number}: not a run record (a JSON object '
                                      f'with "variant" and "seed"): {err}') from None
            if key in records:
                raise InputValueError(f'{path}, line {number}: {key[0]} seed {key[1]} is '
                                      'recorded twice.')
            records[key] = record
    return records


def save_records(path: str, records: Dict[tuple, dict]) -> None:
    """One line per run, sorted, so that the committed file changes line by line; written
    atomically (never a half-written file)."""
    keys = sorted(records, key=lambda k: (str(k[0]), k[1]))
    atomic_write(path, ''.join(json.dumps(records[k], sort_keys=True) + '\n' for k in keys))


def machine_name() -> str:
    """What a run trained on: the GPU, or the CPU's model name and widest vector extension,
    with the torch build (runs of one config and seed differ from one machine to another)."""
    import torch
    if torch.cuda.is_available():
        return f'{torch.cuda.get_device_name()}, torch {torch.__version__}'
    name, flags = platform.machine(), ''
    try:
        with open('/proc/cpuinfo') as f:
            info = f.read()
        name = re.search(r'^model name\s*:\s*(.+)$', info, re.M).group(1).strip()
        flags = re.search(r'^flags\s*:\s*(.+)$', info, re.M).group(1).split()
    except (OSError, AttributeError):  # not Linux, or another cpuinfo layout
        pass
    isa = next((i for i in ('avx512f', 'avx2', 'neon', 'asimd') if i in flags), 'unknown ISA')
    return (f'{name}, {isa}, {torch.get_num_threads()} threads, '
            f'torch {torch.__version__}')


def short_machine(machine: Optional[str]) -> str:
    """A machine's name for a column head: the CPU or GPU model without its trademarks,
    e.g. 'Intel(R) Xeon(R) Processor, avx512f, ...' -> 'Intel Xeon'."""
    if not machine:
        return 'machine not recorded'
    name = re.sub(r'\((R|TM)\)|\bProcessor\b|\bCPU\b|@.*', ' ', machine.split(',')[0])
    return ' '.join(name.split())


def check_machine(path: Optional[str], records: Dict[tuple, dict], here: str) -> None:
    """Refuse to train on machine ``here`` into a records file of runs trained on another
    one: the new runs could not be paired with the recorded ones (records without a
    ``machine`` pass).

    Raises:
        InputValueError: ``records`` hold runs of another machine.
    """
    others = sorted({r['machine'] for r in records.values() if r.get('machine')} - {here})
    if others:
        raise InputValueError(
            f'--records {path} holds runs trained on {"; ".join(others)}, and this machine is '
            f'{here}: runs of one seed differ from one machine to another, so runs of this '
            'machine cannot be paired with those. Record this machine\'s runs in a file of '
            f'their own (--records) and add {path} to the report with --pool-records.')


def pair_key(run: dict) -> tuple:
    """What a paired difference matches on: the seed and the machine (records without a
    ``machine`` pair with each other)."""
    return run['seed'], run.get('machine')
