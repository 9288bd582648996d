# Copyright (c) mmamlris contributors. All rights reserved.
"""tree_fingerprint: equal for equal files anywhere, different for any change."""
import shutil

import pytest

from mmamlris.utils import tree_fingerprint


def _tree(root):
    (root / 'images').mkdir(parents=True)
    (root / 'images' / 'a.jpg').write_bytes(b'\xff\xd8pixels')
    (root / 'refs(unc).p').write_bytes(b'refs')
    return root


def test_equal_files_anywhere_have_one_fingerprint(tmp_path):
    first = _tree(tmp_path / 'one')
    second = tmp_path / 'elsewhere' / 'two'
    shutil.copytree(first, second)
    assert tree_fingerprint(str(first)) == tree_fingerprint(str(second))
    assert len(tree_fingerprint(str(first))) == 16
    assert len(tree_fingerprint(str(first), length=64)) == 64


@pytest.mark.parametrize('change', ['byte', 'rename', 'add', 'move'])
def test_any_change_of_bytes_or_names_changes_it(tmp_path, change):
    root = _tree(tmp_path / 'data')
    before = tree_fingerprint(str(root))
    if change == 'byte':
        (root / 'images' / 'a.jpg').write_bytes(b'\xff\xd8pixelS')
    elif change == 'rename':
        (root / 'images' / 'a.jpg').rename(root / 'images' / 'b.jpg')
    elif change == 'add':
        (root / 'images' / 'empty.jpg').write_bytes(b'')
    else:  # the same bytes in another folder
        (root / 'images' / 'a.jpg').rename(root / 'a.jpg')
    assert tree_fingerprint(str(root)) != before


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(NotADirectoryError, match='nowhere: not a folder'):
        tree_fingerprint(str(tmp_path / 'nowhere'))
