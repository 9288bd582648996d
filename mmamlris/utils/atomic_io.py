# Copyright (c) mmamlris contributors. All rights reserved.
"""Files that are either complete or absent: write to a temporary name, flush, rename.

A process killed while writing (``SIGKILL``, a lost node) leaves at most a ``*.tmp-<pid>``
file next to the target, never a truncated target. A full disk raises
:class:`CheckpointWriteError` and leaves the earlier files as they were.
"""
import errno
import os
import os.path as osp
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

__all__ = ['CheckpointWriteError', 'atomic_write', 'AtomicLocalBackend']


class CheckpointWriteError(OSError):
    """A file could not be written (disk full, permissions); nothing earlier was touched."""


def atomic_write(path: str, data: Union[bytes, str]) -> None:
    """Write ``data`` to ``path`` atomically (same-directory temporary file + ``os.replace``).

    Raises:
        CheckpointWriteError: If writing fails (e.g. ``ENOSPC``); the temporary file is
            removed and an existing ``path`` keeps its old content.
    """
    path = str(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f'{path}.tmp-{os.getpid()}'
    mode = 'wb' if isinstance(data, bytes) else 'w'
    try:
        with open(tmp, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        try:
            os.remove(tmp)
        except OSError:
            pass
        reason = ('no space left on device' if error.errno == errno.ENOSPC else
                  os.strerror(error.errno) if error.errno else str(error))
        raise CheckpointWriteError(
            error.errno, f'could not write {path}: {reason}. Nothing was overwritten: the '
            f'files written before it are intact.') from None
    try:  # make the rename itself durable
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put`` / ``put_text`` write atomically.

    Registered as ``'atomic_local'``: ``backend_args=dict(backend='atomic_local')`` makes
    ``Runner.save_checkpoint`` (and so every checkpoint hook) write through it.
    """

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(str(filepath), obj.encode(encoding))


register_backend('atomic_local', AtomicLocalBackend, force=True)
