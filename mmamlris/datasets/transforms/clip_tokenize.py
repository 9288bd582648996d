# Copyright (c) mmamlris contributors. All rights reserved.
"""``TokenizeCLIPExpression``: CLIP's byte-level BPE ids, as CLIP-text RIS models read them."""
import gzip
import html
import importlib.util
import os.path as osp
import re
from typing import Any, Dict, List, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmamlris.registry import TRANSFORMS
from mmamlris.utils import InputValueError

# CLIP's vocabulary: 256 byte symbols, the same with the end-of-word mark, the merges, then
# the two special tokens (49,408 ids). The BPE file ships inside the PyPI package
# open-clip-torch (installed --no-deps: only this file is read, the package is not imported).
BPE_FILE = 'bpe_simple_vocab_16e6.txt.gz'
NUM_MERGES = 49152 - 256 - 2
SOT, EOT = '<|startoftext|>', '<|endoftext|>'
PACKAGE_HINT = 'pip install --no-deps open-clip-torch==3.3.0 (or: bash tools/setup_env.sh)'


def default_bpe_file() -> str:
    """The BPE merges shipped by ``open-clip-torch``, found without importing the package."""
    spec = importlib.util.find_spec('open_clip')
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = osp.join(location, BPE_FILE)
        if osp.isfile(path):
            return path
    raise InputValueError(f'CLIP tokenizer: {BPE_FILE} not found; it ships with the package '
                          f'open-clip-torch: {PACKAGE_HINT}, or pass bpe_file=.')


def byte_symbols() -> List[str]:
    """The printable stand-ins of the 256 bytes (GPT-2 / CLIP byte-level BPE), in CLIP's
    vocabulary order: the bytes that are printable themselves first, then the others, which
    take the characters from U+0100 on, in byte order."""
    printable = [*range(ord('!'), ord('~') + 1), *range(ord('¡'), ord('¬') + 1),
                 *range(ord('®'), ord('ÿ') + 1)]
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + k) for k in range(len(others))]


def clean_text(text: str) -> str:
    """CLIP's cleaning: ftfy, HTML entities decoded twice, runs of white space to one space,
    stripped (lower-casing is left to the tokenizer)."""
    import ftfy
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return re.sub(r'\s+', ' ', text).strip()


def build_clip_tokenizer(bpe_file: Optional[str] = None) -> Any:
    """A ``transformers`` ``CLIPTokenizer`` holding CLIP's vocabulary and merges."""
    from transformers import CLIPTokenizer
    path = bpe_file or default_bpe_file()
    with gzip.open(path, 'rt', encoding='utf-8') as f:
        lines = f.read().split('\n')[1:NUM_MERGES + 1]  # line 0 is a version header
    merges = [tuple(line.split()) for line in lines]
    if len(merges) != NUM_MERGES or any(len(m) != 2 for m in merges):
        raise InputValueError(f'CLIP tokenizer: {path} is not CLIP\'s BPE file (expected '
                              f'{NUM_MERGES} merges of two symbols).')
    symbols = byte_symbols()
    tokens = symbols + [s + '</w>' for s in symbols] + [''.join(m) for m in merges] + [SOT, EOT]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=merges)


@TRANSFORMS.register_module()
class TokenizeCLIPExpression(BaseTransform):
    """Tokenize ``results['text']`` with CLIP's BPE: ``<sot> w_1 ... w_n <eot>``, zero padded.

    What CLIP-based RIS models (DETRIS, CRIS) feed their CLIP text tower: the text is cleaned as
    CLIP does (:func:`clean_text`, then lower-cased), split by CLIP's pattern and byte-level
    BPE-encoded; an expression longer than ``max_tokens`` is cut and its last id replaced by
    ``<eot>`` (the text tower reads the ``<eot>`` position, the sequence's largest id), and the
    rest is padded with id 0 (``!``: CLIP's convention, hence the attention mask).

    Required Keys:

    - text (str)

    Added Keys:

    - text_token_ids (np.int64): ``[max_tokens]``
    - text_attention_mask (np.int64): ``[max_tokens]``, 1 from ``<sot>`` to ``<eot>``

    Args:
        max_tokens (int): Context length, special tokens included. Defaults to 17 (DETRIS).
        bpe_file (str, optional): CLIP's ``bpe_simple_vocab_16e6.txt.gz``. Defaults to the
            one shipped by ``open-clip-torch``.
    """

    def __init__(self, max_tokens: int = 17, bpe_file: Optional[str] = None) -> None:
        if not isinstance(max_tokens, int) or max_tokens < 2:
            raise InputValueError(f'TokenizeCLIPExpression: max_tokens must be an int >= 2 '
                                  f'(room for <sot> and <eot>), got {max_tokens!r}.')
        self.max_tokens = max_tokens
        self.bpe_file = bpe_file
        self._tokenizer: Optional[Any] = None

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state['_tokenizer'] = None  # rebuilt in each worker
        return state

    def token_ids(self, text: str) -> List[int]:
        """The ids of ``text`` with ``<sot>`` / ``<eot>``, cut to ``max_tokens`` (no padding)."""
        if self._tokenizer is None:
            self._tokenizer = build_clip_tokenizer(self.bpe_file)
        tokenizer = self._tokenizer
        words = tokenizer.encode(clean_text(text), add_special_tokens=False)
        ids = [tokenizer.convert_tokens_to_ids(SOT)] + list(words) + \
            [tokenizer.convert_tokens_to_ids(EOT)]
        if len(ids) > self.max_tokens:
            ids = ids[:self.max_tokens]
            ids[-1] = tokenizer.convert_tokens_to_ids(EOT)
        return ids

    def transform(self, results: dict) -> dict:
        """Add ``text_token_ids`` and ``text_attention_mask``."""
        if 'text' not in results:
            raise InputValueError(f'TokenizeCLIPExpression: no text in the sample of '
                                  f'{results.get("img_path")}; put SampleExpression first.')
        ids = self.token_ids(str(results['text']))
        token_ids = np.zeros(self.max_tokens, dtype=np.int64)
        token_ids[:len(ids)] = ids
        mask = np.zeros(self.max_tokens, dtype=np.int64)
        mask[:len(ids)] = 1
        results['text_token_ids'] = token_ids
        results['text_attention_mask'] = mask
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(max_tokens={self.max_tokens})'
