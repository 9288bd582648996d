# Copyright (c) mmamlris contributors. All rights reserved.
"""Is a checkpoint file complete? And which is the newest complete one of a work dir?"""
import glob
import os.path as osp
import zipfile
from typing import Optional

from .errors import InputFileNotFoundError, InputValueError

__all__ = ['check_checkpoint_file', 'newest_intact_checkpoint', 'read_last_checkpoint']


def check_checkpoint_file(path: str) -> str:
    """Refuse a missing, truncated or corrupt checkpoint with one clear error.

    ``torch.save`` writes a zip archive whose directory is at its end, so a file cut short
    anywhere has none, and every record carries a CRC-32, so a changed byte is found too. The
    whole file is read once (about a second per GB).

    Returns:
        str: ``path``.

    Raises:
        InputFileNotFoundError: If ``path`` does not exist.
        InputValueError: If it is not a complete ``torch.save`` archive.
    """
    if not osp.isfile(path):
        raise InputFileNotFoundError(f'{path}: no such checkpoint file.')
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            bad = archive.testzip()
        if bad is not None:
            raise zipfile.BadZipFile(f'record {bad} fails its CRC check')
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise InputValueError(
            f'{path}: truncated or corrupt checkpoint ({error}); it is not a complete archive '
            f'written by torch.save. Use an earlier checkpoint of the same work dir.') from None
    if not any(name.endswith('data.pkl') for name in names):
        raise InputValueError(f'{path}: not a torch checkpoint (no data.pkl in the archive).')
    return path


def _intact(path: str) -> bool:
    try:
        check_checkpoint_file(path)
        return True
    except (InputValueError, InputFileNotFoundError):
        return False


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The path ``work_dir/last_checkpoint`` names, or ``None`` (no file, or empty)."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        return f.read().strip() or None


def newest_intact_checkpoint(work_dir: str) -> Optional[str]:
    """The newest (by modification time) complete ``*.pth`` of ``work_dir``, or ``None``."""
    candidates = sorted(glob.glob(osp.join(work_dir, '*.pth')), key=osp.getmtime,
                        reverse=True)
    return next((p for p in candidates if _intact(p)), None)
