# Copyright (c) mmamlris contributors. All rights reserved.
"""``mmamlris/utils/`` is the bottom layer: none of its modules imports another part of
mmamlris (models, datasets, testing, the package itself ...)."""
import ast
import glob
import os.path as osp

from mmamlris.testing.tiny_configs import REPO_ROOT


def upward_imports(path):
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):  # function-level imports too
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:  # from .. import: above utils/
                found.append('.' * node.level + (node.module or ''))
                continue
            names = [node.module or ''] if node.level == 0 else []
        else:
            continue
        found += [n for n in names
                  if (n == 'mmamlris' or n.startswith('mmamlris.'))
                  and not (n == 'mmamlris.utils' or n.startswith('mmamlris.utils.'))]
    return found


def test_utils_import_nothing_above_them():
    files = glob.glob(osp.join(REPO_ROOT, 'mmamlris', 'utils', '*.py'))
    assert files
    offenders = {osp.basename(f): upward_imports(f) for f in files}
    assert not {f: v for f, v in offenders.items() if v}


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('def f():\n    from mmamlris.testing import ris_inputs\n'
                   'from ..models import x\nimport mmamlris\nfrom mmamlris.utils import y\n')
    assert sorted(upward_imports(str(bad))) == ['..models', 'mmamlris', 'mmamlris.testing']
