# Copyright (c) mmamlris contributors. All rights reserved.
"""Install mmamlris. The pinned OpenMMLab stack is installed by ``tools/setup_env.sh``.

As OpenMMLab packages do, the configs, the tools and ``model-index.yml`` travel as package data
in ``mmamlris/.mim/`` (copied there by ``sdist`` / ``bdist_wheel``, linked by ``develop``), so
that ``mim train mmamlris CONFIG`` and ``mim test mmamlris CONFIG --checkpoint CKPT`` work from
an installed package. Only ``mmamlris`` itself is installed as a Python package.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmamlris', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(name: str) -> list:
    """Read ``requirements/<name>.txt``, skipping comments and blank lines."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt'), encoding='utf-8') as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


MIM_FILES = ('configs', 'tools', 'model-index.yml')


def add_mim_extension() -> None:
    """Put the configs, tools and model index into ``mmamlris/.mim`` for the mim commands.

    ``develop`` (editable installs) links them, ``sdist`` / ``bdist_wheel`` / ``install``
    copy them; other commands leave ``.mim`` as it is.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel', 'install', 'build')):
        mode = 'copy'
    else:
        return
    mim_root = osp.join(HERE, 'mmamlris', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(HERE, name), osp.join(mim_root, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_root), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


add_mim_extension()
setup(
    name='mmamlris',
    version=get_version(),
    description='Alignment-aware Masked Learning for referring image segmentation, '
    'an OpenMMLab plugin',
    long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    keywords='referring image segmentation, vision-language, openmmlab, masked learning',
    packages=find_packages(include=('mmamlris', 'mmamlris.*')),
    include_package_data=True,
    python_requires='>=3.10',
    license='Apache License 2.0',
    # mmcv must be built from source with ops (tools/setup_env.sh); listing it here would make
    # pip try to build it in an isolated environment, which fails (docs/en/stack_notes.md).
    install_requires=parse_requirements('runtime'),
    extras_require=dict(
        tests=parse_requirements('tests'), optional=parse_requirements('optional'),
        mim=parse_requirements('mminstall')),
    zip_safe=False)
