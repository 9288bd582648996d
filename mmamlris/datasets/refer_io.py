# Copyright (c) mmamlris contributors. All rights reserved.
"""Safe readers for the two annotation files of the REFER layout.

A RefCOCO-family dataset is a pair of files (``docs/en/datasets.md``):

* ``refs(<split_by>).p``: a pickled ``list`` of ``dict`` (one per referred object) holding
  ``ref_id, ann_id, image_id, split, category_id, sentences=[{sent_id, sent, raw, tokens}]``;
* ``instances.json``: COCO ``images`` / ``annotations`` / ``categories``.

A pickle can run arbitrary code when it is loaded, and refs files are passed around the
internet, so :func:`load_refs` uses an unpickler that resolves **no** global name at all: the
real refs pickles only contain lists, dicts, strings and numbers, which pickle encodes without
any global reference. Anything else is refused before it can be called.
"""
import io
import json
import os.path as osp
import pickle
from typing import Any, Dict, List, Tuple

from mmamlris.utils.errors import InputFileNotFoundError, InputValueError

__all__ = ['load_refs', 'load_instances']


class _GlobalRefused(pickle.UnpicklingError):
    """Raised by :class:`_PlainUnpickler` when the stream names a global."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f'{module}.{name}')
        self.module = module
        self.name = name


class _PlainUnpickler(pickle.Unpickler):
    """An unpickler that refuses every global (class, function) reference.

    Builtin containers and scalars (list, dict, tuple, str, bytes, int, float, bool, None) are
    encoded with dedicated opcodes and never reach :meth:`find_class`, so plain refs pickles load
    while anything that would import or call code fails.
    """

    def find_class(self, module: str, name: str) -> Any:
        raise _GlobalRefused(module, name)


def _bytes_to_str(obj: Any) -> Any:
    """Recursively turn ``bytes`` (Python 2 ``str``) into ``str`` (UTF-8, else Latin-1)."""
    if isinstance(obj, bytes):
        try:
            return obj.decode('utf-8')
        except UnicodeDecodeError:
            return obj.decode('latin1')
    if isinstance(obj, list):
        return [_bytes_to_str(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_bytes_to_str(x) for x in obj)
    if isinstance(obj, dict):
        return {_bytes_to_str(k): _bytes_to_str(v) for k, v in obj.items()}
    return obj


def _unpickle(raw: bytes, path: str) -> Any:
    """Unpickle ``raw`` with :class:`_PlainUnpickler`; errors become ``ValueError``."""
    try:
        try:
            # Python 3 pickles and the ASCII-only Python 2 pickles load directly.
            return _PlainUnpickler(io.BytesIO(raw)).load()
        except UnicodeDecodeError:
            # Python 2 ``str`` holding non-ASCII bytes: keep them as bytes, then decode.
            return _bytes_to_str(_PlainUnpickler(io.BytesIO(raw), encoding='bytes').load())
    except _GlobalRefused as e:
        raise InputValueError(
            f'{path} is not a plain refs pickle: it references {e.module}.{e.name}, which could '
            'run code; refusing to load it. A refs file only holds lists, dicts, strings and '
            'numbers.') from None
    except Exception as e:  # truncated, garbage or otherwise unreadable streams
        raise InputValueError(
            f'{path} could not be read as a refs pickle ({type(e).__name__}: {e}); the file is '
            'probably truncated or not a pickle. Download or generate it again.') from None


def load_refs(path: str) -> List[dict]:
    """Load a REFER ``refs(<split_by>).p`` file without executing anything from it.

    A ``.json`` path (gRefCOCO's ``grefs(unc).json``) is read as JSON holding the same list.

    Args:
        path (str): Path of the pickle.

    Returns:
        list[dict]: The refs, as stored (Python 2 byte strings are decoded to ``str``).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the pickle references a global (class or function), is truncated or
            corrupt, or is not a list of dicts.
    """
    if not osp.isfile(path):
        raise InputFileNotFoundError(f'Refs file {path} does not exist.')
    with open(path, 'rb') as f:
        raw = f.read()
    if path.endswith('.json'):
        try:
            refs = json.loads(raw.decode('utf-8'))
        except (ValueError, UnicodeDecodeError) as e:
            raise InputValueError(f'{path} is not a valid JSON refs file ({e}).') from None
    else:
        refs = _unpickle(raw, path)
    if not isinstance(refs, list):
        raise InputValueError(f'{path} should hold a list of refs (dicts) but holds a '
                              f'{type(refs).__name__}.')
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict):
            raise InputValueError(f'{path}: entry {i} should be a dict (one ref) but is a '
                                  f'{type(ref).__name__}.')
    return refs


def load_instances(path: str) -> Tuple[Dict[int, dict], Dict[int, dict]]:
    """Load a COCO-format ``instances.json`` and index it by id.

    Args:
        path (str): Path of the JSON file.

    Returns:
        tuple[dict[int, dict], dict[int, dict]]: ``(images, annotations)``: the COCO image
        records (``file_name, height, width, ...``) keyed by image id, and the annotation
        records (``image_id, category_id, segmentation, ...``) keyed by annotation id.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not JSON or lacks ``images`` / ``annotations`` lists with
            ``id`` fields.
    """
    if not osp.isfile(path):
        raise InputFileNotFoundError(f'Instances file {path} does not exist.')
    try:
        with open(path, encoding='utf-8') as f:
            coco = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputValueError(f'{path} is not a valid JSON file ({e}).') from None
    if not isinstance(coco, dict):
        raise InputValueError(f'{path} should hold a COCO dict with "images" and "annotations", '
                              f'not a {type(coco).__name__}.')
    indexed = []
    for key in ('images', 'annotations'):
        records = coco.get(key)
        if not isinstance(records, list):
            raise InputValueError(f'{path} has no "{key}" list; is it a COCO instances file?')
        by_id = {}
        for i, record in enumerate(records):
            if not isinstance(record, dict) or 'id' not in record:
                raise InputValueError(f'{path}: {key}[{i}] is not a record with an "id".')
            by_id[record['id']] = record
        indexed.append(by_id)
    return indexed[0], indexed[1]
