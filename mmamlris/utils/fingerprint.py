# Copyright (c) mmamlris contributors. All rights reserved.
"""A short content hash of a folder: were two copies of a dataset generated identically?"""
import hashlib
import os
import os.path as osp


def tree_fingerprint(root: str, length: int = 16) -> str:
    """SHA-256 of every file under ``root`` (relative path and bytes, in sorted path order),
    its first ``length`` hex digits.

    Two folders have the same fingerprint when they hold the same files with the same bytes,
    wherever they lie; e.g. SynRef generated from the same arguments on two machines (a
    different JPEG encoder build would show here).

    Args:
        root (str): The folder.
        length (int): Hex digits kept. Defaults to 16.

    Returns:
        str: The fingerprint.

    Raises:
        NotADirectoryError: ``root`` is not a folder.
    """
    if not osp.isdir(root):
        raise NotADirectoryError(f'{root}: not a folder, nothing to fingerprint')
    paths = sorted(osp.relpath(osp.join(folder, name), root)
                   for folder, _, names in os.walk(root) for name in names)
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.replace(os.sep, '/').encode() + b'\0')
        with open(osp.join(root, path), 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                digest.update(chunk)
    return digest.hexdigest()[:length]
