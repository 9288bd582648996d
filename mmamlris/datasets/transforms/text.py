# Copyright (c) mmamlris contributors. All rights reserved.
import logging
import os.path as osp
from typing import Any, Dict, List, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmamlris.registry import TRANSFORMS
from mmamlris.utils import resolve_model_dir
from mmamlris.utils.errors import InputFileNotFoundError, InputValueError

# Files of which at least one is present in a saved Hugging Face tokenizer.
_TOKENIZER_FILES = ('tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'vocab.json',
                    'spiece.model', 'sentencepiece.bpe.model')


def _describe(results: dict) -> str:
    return (f'img_path={results.get("img_path")}, ref_id={results.get("ref_id")}, '
            f'sent_id={results.get("sent_id")}')


@TRANSFORMS.register_module()
class SampleExpression(BaseTransform):
    """Pick the referring expression of this visit.

    A training item (one per ref) carries every sentence of its ref; one is drawn uniformly at
    random with NumPy's global generator each time the item is loaded, so successive epochs
    see different expressions (CARIS's ``ReferDataset``). mmengine seeds that generator per
    dataloader worker and rank. A test item already carries one expression and is left as is.

    Required Keys:

    - sentences (list[dict], optional): ``[{'sent_id': int, 'text': str}, ...]``
    - text (str): required when there is no ``sentences``

    Added / Modified Keys:

    - text (str)
    - sent_id (int)
    """

    def transform(self, results: dict) -> dict:
        """Set ``text`` and ``sent_id`` from a random entry of ``sentences``.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict with ``text`` and ``sent_id``.
        """
        sentences = results.get('sentences')
        if sentences is not None:
            if len(sentences) == 0:
                raise InputValueError(f'SampleExpression: the item ({_describe(results)}) has an '
                                      'empty "sentences" list.')
            chosen = sentences[np.random.randint(len(sentences))]
            results['text'] = chosen['text']
            results['sent_id'] = chosen['sent_id']
        elif 'text' not in results:
            raise InputValueError(f'SampleExpression: the item ({_describe(results)}) has neither '
                                  '"sentences" (training items) nor "text" (test items); was it '
                                  'made by RefCOCODataset?')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'


@TRANSFORMS.register_module()
class TokenizeExpression(BaseTransform):
    """Tokenize the referring expression the way CARIS/LAVT do.

    ``[CLS] w_1 ... w_n [SEP]`` is produced with no truncation, then **cut to ``max_tokens``
    after** the special tokens were added (a long sentence loses its ``[SEP]``; CARIS keeps 20
    tokens), and padded with the tokenizer's pad id. The first truncation in a process logs a
    warning.

    The default tokenizer is the one of ``all-MiniLM-L6-v2``, which ships the
    ``bert-base-uncased`` WordPiece vocabulary (30522 entries, ``[PAD]=0``, ``[CLS]=101``,
    ``[SEP]=102``), so the same ids also serve a BERT-base text encoder (CARIS).

    The tokenizer is loaded on first use, and dropped when the transform is pickled, so it
    travels cheaply into dataloader workers.

    Required Keys:

    - text (str)

    Added Keys:

    - text_token_ids (np.int64): ``[L]`` token ids
    - text_attention_mask (np.int64): ``[L]``, 1 for real tokens, 0 for padding

    ``L = max_tokens`` when ``pad_to_max``, else the (truncated) length of this expression.

    Args:
        tokenizer (str): A directory saved by ``save_pretrained`` or an alias of
            :func:`mmamlris.utils.resolve_model_dir`. Defaults to ``'all-MiniLM-L6-v2'``.
        max_tokens (int): Maximum number of tokens, special tokens included. Defaults to 20.
        pad_to_max (bool): Pad every expression to ``max_tokens``. Defaults to True.
    """

    # Whether this process has already warned about a truncated expression.
    _warned_truncation = False

    def __init__(self,
                 tokenizer: str = 'all-MiniLM-L6-v2',
                 max_tokens: int = 20,
                 pad_to_max: bool = True) -> None:
        if not isinstance(max_tokens, int) or max_tokens < 2:
            raise InputValueError(f'max_tokens must be an int >= 2 (room for [CLS] and a word), '
                                  f'got {max_tokens!r}.')
        self.tokenizer = tokenizer
        self.tokenizer_dir = resolve_model_dir(tokenizer)
        self.max_tokens = max_tokens
        self.pad_to_max = pad_to_max
        self._tokenizer: Optional[Any] = None

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state['_tokenizer'] = None
        return state

    def _get_tokenizer(self) -> Any:
        if self._tokenizer is None:
            if not any(osp.isfile(osp.join(self.tokenizer_dir, name))
                       for name in _TOKENIZER_FILES):
                raise InputFileNotFoundError(
                    f'TokenizeExpression: {self.tokenizer_dir} holds no tokenizer files (one '
                    f'of {list(_TOKENIZER_FILES)}); save one there with '
                    '`AutoTokenizer.from_pretrained(...).save_pretrained(dir)`.')
            from transformers import AutoTokenizer
            try:
                tokenizer = AutoTokenizer.from_pretrained(
                    self.tokenizer_dir, local_files_only=True)
            except Exception as e:
                raise OSError(f'TokenizeExpression: could not load a tokenizer from '
                              f'{self.tokenizer_dir} ({type(e).__name__}: {e}).') from None
            if tokenizer.pad_token_id is None:
                raise InputValueError(f'TokenizeExpression: the tokenizer in {self.tokenizer_dir} '
                                      'has no pad token.')
            self._tokenizer = tokenizer
        return self._tokenizer

    def tokenize(self, text: str) -> List[int]:
        """Token ids of ``text`` with special tokens, cut to ``max_tokens`` (no padding)."""
        ids = list(self._get_tokenizer()(text, add_special_tokens=True)['input_ids'])
        if len(ids) > self.max_tokens:
            if not TokenizeExpression._warned_truncation:
                TokenizeExpression._warned_truncation = True
                print_log(
                    f'TokenizeExpression: an expression has {len(ids)} tokens (special tokens '
                    f'included) and is cut to max_tokens={self.max_tokens}, as CARIS does '
                    f'(first one: {text[:100]!r}). Warned once per process.',
                    logger='current',
                    level=logging.WARNING)
            ids = ids[:self.max_tokens]
        return ids

    def transform(self, results: dict) -> dict:
        """Add ``text_token_ids`` and ``text_attention_mask``.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict with the token fields.
        """
        text = results.get('text')
        if not isinstance(text, str) or not text.strip():
            raise InputValueError(f'TokenizeExpression: the expression {text!r} of the item '
                                  f'({_describe(results)}) is empty or not a string.')
        ids = self.tokenize(text)
        length = self.max_tokens if self.pad_to_max else len(ids)
        token_ids = np.full(length, self._get_tokenizer().pad_token_id, dtype=np.int64)
        token_ids[:len(ids)] = ids
        attention_mask = np.zeros(length, dtype=np.int64)
        attention_mask[:len(ids)] = 1
        results['text_token_ids'] = token_ids
        results['text_attention_mask'] = attention_mask
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(tokenizer={self.tokenizer!r}, '
                f'max_tokens={self.max_tokens}, pad_to_max={self.pad_to_max})')
