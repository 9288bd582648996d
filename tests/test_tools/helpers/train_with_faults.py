# Copyright (c) mmamlris contributors. All rights reserved.
"""Run ``tools/train.py`` with faults injected into the atomic file writes (tests only).

Environment:
    FAULT_SLOW_WRITE_FLAG: path; every atomic write creates this file once its data is written
        (before the rename) and then waits FAULT_SLOW_WRITE_SECONDS, so that a test can kill
        the process in the middle of a checkpoint write.
    FAULT_SLOW_WRITE_AFTER: N (default 0); the first N atomic writes are neither flagged nor
        slowed (a checkpoint is two writes: the file, then ``last_checkpoint``).
    FAULT_ENOSPC_AFTER: N; the (N+1)-th atomic write fails with ENOSPC, as on a full disk.
"""
import errno
import os
import os.path as osp
import runpy
import stat
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, ROOT)
from mmamlris.utils import atomic_io  # noqa: E402

_real_fsync = os.fsync
_writes = [0]


def _faulty_fsync(fd):
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # the folder, after the rename
        return _real_fsync(fd)
    flag = os.environ.get('FAULT_SLOW_WRITE_FLAG')
    enospc_after = os.environ.get('FAULT_ENOSPC_AFTER')
    _writes[0] += 1
    if enospc_after is not None and _writes[0] > int(enospc_after):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if flag and _writes[0] > int(os.environ.get('FAULT_SLOW_WRITE_AFTER', '0')):
        with open(flag, 'w') as f:
            f.write(str(os.getpid()))
        time.sleep(float(os.environ.get('FAULT_SLOW_WRITE_SECONDS', '2')))
    _real_fsync(fd)


class _FaultyOS:  # the os module as atomic_io sees it, with the faulty fsync
    def __getattr__(self, name):
        return _faulty_fsync if name == 'fsync' else getattr(os, name)


atomic_io.os = _FaultyOS()
sys.argv = [osp.join(ROOT, 'tools', 'train.py'), *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name='__main__')
