# Copyright (c) mmamlris contributors. All rights reserved.
import json
import os
import os.path as osp
import pickle

import pytest

from mmamlris.datasets import load_instances, load_refs


class _RunsShell:
    """Unpickling this runs ``touch <path>``, the way a hostile refs file would."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return os.system, (f'touch {self.path}', )


def _write(path, data: bytes) -> str:
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def test_load_refs_fixture(refer_tiny):
    refs = load_refs(osp.join(refer_tiny, 'refs(unc).p'))
    assert isinstance(refs, list) and len(refs) == 9
    assert [r['ref_id'] for r in refs] == [3, 8, 15, 16, 42, 57, 61, 99, 120]
    assert refs[0]['sentences'][0] == dict(
        sent_id=10, sent='the big square on the left', raw='The big square on the LEFT.',
        tokens=['the', 'big', 'square', 'on', 'the', 'left'])


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / 'pwned'
    payload = pickle.dumps([{'ref_id': 1, 'evil': _RunsShell(str(marker))}], protocol=2)
    path = _write(tmp_path / 'refs(unc).p', payload)
    with pytest.raises(ValueError) as err:
        load_refs(path)
    msg = str(err.value)
    assert path in msg and 'system' in msg and 'refusing to load it' in msg
    assert not marker.exists()
    # The payload is live: a plain pickle.loads does run it (so the check above can fail).
    pickle.loads(payload)
    assert marker.exists()


def test_any_global_is_refused(tmp_path):
    # Even a harmless builtin needs a global reference in protocol 2; nothing is allowed.
    path = _write(tmp_path / 'refs.p', pickle.dumps([{'ids': {1, 2}}], protocol=2))
    with pytest.raises(ValueError, match=r'builtin__\.set'):
        load_refs(path)


@pytest.mark.parametrize('data', [b'', b'this is not a pickle', b'\x80\x02]q\x00(}q\x01'])
def test_garbage_or_truncated_pickle(tmp_path, data):
    path = _write(tmp_path / 'bad.p', data)
    with pytest.raises(ValueError, match='could not be read as a refs pickle') as err:
        load_refs(path)
    assert path in str(err.value)


def test_truncated_fixture(tmp_path, refer_tiny):
    with open(osp.join(refer_tiny, 'refs(unc).p'), 'rb') as f:
        raw = f.read()
    path = _write(tmp_path / 'half.p', raw[:len(raw) // 2])
    with pytest.raises(ValueError, match='truncated'):
        load_refs(path)


@pytest.mark.parametrize('obj, what', [({'ref_id': 1}, 'list'), ([{'ref_id': 1}, 3], 'entry 1')])
def test_not_a_list_of_dicts(tmp_path, obj, what):
    path = _write(tmp_path / 'refs.p', pickle.dumps(obj))
    with pytest.raises(ValueError, match=what):
        load_refs(path)


def test_python2_byte_strings(tmp_path):
    # Hand-written protocol-2 stream as Python 2 writes a list holding one dict of ``str``
    # (SHORT_BINSTRING 'U'): [{'sent': 'caf\xc3\xa9' (UTF-8 bytes), 'ref_id': 7}].
    stream = b'\x80\x02]}(U\x04sentU\x05caf\xc3\xa9U\x06ref_idK\x07ua.'
    assert load_refs(_write(tmp_path / 'py2.p', stream)) == [{'sent': 'café', 'ref_id': 7}]
    ascii_stream = b'\x80\x02]}(U\x04sentU\x03boxU\x06ref_idK\x07ua.'
    assert load_refs(_write(tmp_path / 'py2a.p', ascii_stream)) == [
        {'sent': 'box', 'ref_id': 7}]


def test_missing_refs_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.p'):
        load_refs(str(tmp_path / 'nowhere.p'))


def test_load_instances(refer_tiny, tmp_path):
    images, anns = load_instances(osp.join(refer_tiny, 'instances.json'))
    assert sorted(images) == [11, 27, 105]
    assert sorted(anns) == [501, 777, 903, 904]
    assert (images[27]['height'], images[27]['width']) == (24, 32)
    assert anns[777]['image_id'] == 27

    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_instances(str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match='not a valid JSON'):
        load_instances(str(bad))
    bad.write_text(json.dumps({'images': []}))
    with pytest.raises(ValueError, match='"annotations"'):
        load_instances(str(bad))
