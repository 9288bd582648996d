# Copyright (c) mmamlris contributors. All rights reserved.
"""A tiny offline BERT for tests: real MiniLM vocabulary, random weights, ~1 M parameters."""
import os
import os.path as osp
import shutil
from typing import Dict

from mmamlris.utils import resolve_model_dir

# Tokenizer files copied from the packaged MiniLM so that token ids match the real vocabulary.
TOKENIZER_FILES = ('vocab.txt', 'tokenizer.json', 'tokenizer_config.json',
                   'special_tokens_map.json')
# bert-base-uncased vocabulary size (MiniLM-L6 uses the same vocabulary).
VOCAB_SIZE = 30522


def tiny_bert_config(hidden: int = 32, layers: int = 2) -> Dict:
    """The ``config=`` dict of :class:`HFTextEncoder` for a tiny random BERT.

    Args:
        hidden (int): Hidden size (a multiple of 2, the number of heads). Defaults to 32.
        layers (int): Number of transformer layers. Defaults to 2.

    Returns:
        dict: ``AutoConfig.for_model`` arguments, ``model_type`` included.
    """
    return dict(
        model_type='bert',
        vocab_size=VOCAB_SIZE,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        pad_token_id=0)


def make_tiny_bert_dir(path: str, hidden: int = 32, layers: int = 2) -> str:
    """Write a tiny randomly initialised BERT with the real MiniLM tokenizer to ``path``.

    The directory looks like any ``save_pretrained()`` output (``config.json``,
    ``model.safetensors``, ``vocab.txt``, ``tokenizer*.json``), so it can stand in for a
    pretrained text model in tests: ``HFTextEncoder(pretrained=path)`` and
    ``AutoTokenizer.from_pretrained(path)`` both work offline.

    Args:
        path (str): Output directory (created if needed).
        hidden (int): Hidden size. Defaults to 32.
        layers (int): Number of transformer layers. Defaults to 2.

    Returns:
        str: ``path``.
    """
    import torch
    from transformers import BertConfig, BertModel

    cfg = dict(tiny_bert_config(hidden, layers))
    cfg.pop('model_type')
    os.makedirs(path, exist_ok=True)
    with torch.random.fork_rng(devices=[]):  # deterministic, global RNG untouched
        torch.manual_seed(0)
        model = BertModel(BertConfig(**cfg))
    model.save_pretrained(path)
    minilm_dir = resolve_model_dir('all-MiniLM-L6-v2')
    for name in TOKENIZER_FILES:
        src = osp.join(minilm_dir, name)
        if osp.isfile(src):
            shutil.copy(src, osp.join(path, name))
    return path
