# Copyright (c) mmamlris contributors. All rights reserved.
"""TokenizeCLIPExpression gives the ids of DETRIS's own CLIP tokenizer."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest

from mmamlris.datasets.transforms import TokenizeCLIPExpression
from mmamlris.datasets.transforms import clip_tokenize
from mmamlris.utils import InputValueError

OFFICIAL = osp.join(osp.dirname(__file__), '..', '..', 'data', 'detris_official',
                    'clip_tokens.json')


@pytest.fixture(scope='module')
def official():
    with open(OFFICIAL, encoding='utf-8') as f:
        return json.load(f)


@pytest.fixture(scope='module')
def tokenize():
    return TokenizeCLIPExpression(max_tokens=17)


def test_ids_equal_the_official_tokenizer(official, tokenize):
    assert len(official['corpus']) == 213
    for text, ids in zip(official['corpus'], official['ids']):
        assert tokenize(dict(text=text))['text_token_ids'].tolist() == ids, text


def test_long_expressions_end_with_eot_and_the_mask_covers_sot_to_eot(official, tokenize):
    sot, eot = 49406, 49407
    short = tokenize(dict(text='the red circle'))
    n = int(short['text_attention_mask'].sum())
    assert short['text_token_ids'][0] == sot and short['text_token_ids'][n - 1] == eot
    assert not short['text_token_ids'][n:].any() and not short['text_attention_mask'][n:].any()
    long = tokenize(dict(text=' '.join(['word'] * 40)))
    assert long['text_token_ids'][-1] == eot and long['text_attention_mask'].all()
    assert long['text_token_ids'].dtype == np.int64
    # the text tower reads the <eot> position: the largest id of every sequence
    for ids in official['ids']:
        assert ids[int(np.argmax(ids))] == eot


def test_the_vocabulary_is_clips():
    symbols = clip_tokenize.byte_symbols()
    assert len(symbols) == len(set(symbols)) == 256
    assert symbols[0] == '!' and symbols[188] == chr(256)  # 188 bytes stand for themselves
    tokenizer = clip_tokenize.build_clip_tokenizer()
    assert len(tokenizer.get_vocab()) == 49408
    special = tokenizer.convert_tokens_to_ids(['<|startoftext|>', '<|endoftext|>'])
    assert special == [49406, 49407]


def test_errors_name_what_is_missing(monkeypatch, tmp_path):
    for bad in (1, 0, '17'):
        with pytest.raises(InputValueError, match='max_tokens must be an int >= 2'):
            TokenizeCLIPExpression(max_tokens=bad)
    with pytest.raises(InputValueError, match='put SampleExpression first'):
        TokenizeCLIPExpression()(dict(img_path='a.jpg'))
    monkeypatch.setattr(clip_tokenize.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(InputValueError, match='open-clip-torch'):
        clip_tokenize.default_bpe_file()
    broken = tmp_path / 'bpe.txt.gz'
    import gzip
    with gzip.open(broken, 'wt') as f:
        f.write('#version\na b\n')
    with pytest.raises(InputValueError, match="is not CLIP's BPE file"):
        clip_tokenize.build_clip_tokenizer(str(broken))


def test_pickling_drops_the_tokenizer(tokenize):
    tokenize(dict(text='warm up'))
    clone = pickle.loads(pickle.dumps(tokenize))
    assert clone._tokenizer is None
    assert clone(dict(text='the blue star'))['text_token_ids'].tolist() == \
        tokenize(dict(text='the blue star'))['text_token_ids'].tolist()
