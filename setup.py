# Copyright (c) mmamlris contributors. All rights reserved.
"""Install mmamlris. The pinned OpenMMLab stack is installed by ``tools/setup_env.sh``."""
import os.path as osp

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


setup(
    name='mmamlris',
    version=get_version(),
    description='Alignment-aware Masked Learning for referring image segmentation, '
    'an OpenMMLab plugin',
    long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    keywords='referring image segmentation, vision-language, openmmlab, masked learning',
    packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests', 'docs')),
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
