# Copyright (c) mmamlris contributors. All rights reserved.
"""``SampleExpression`` and ``TokenizeExpression`` (with the real MiniLM tokenizer)."""
import logging
import os.path as osp
import pickle

import numpy as np
import pytest

import mmamlris.datasets.transforms.text as text_module
from mmamlris.datasets import SampleExpression, TokenizeExpression
from mmamlris.utils import resolve_model_dir

PAD, CLS, SEP = 0, 101, 102  # bert-base-uncased


@pytest.fixture(scope='module')
def tokenize():
    return TokenizeExpression()


@pytest.fixture(scope='module')
def vocab():
    """Word -> id from the line numbers of the packaged vocab.txt (independent of the code)."""
    with open(osp.join(resolve_model_dir('all-MiniLM-L6-v2'), 'vocab.txt'),
              encoding='utf-8') as f:
        return {line.rstrip('\n'): i for i, line in enumerate(f)}


def test_sample_expression_draws_each_visit():
    sentences = [dict(sent_id=s, text=f'text {s}') for s in (4, 9, 17)]
    np.random.seed(1)
    drawn = []
    for _ in range(50):
        out = SampleExpression()(dict(sentences=sentences, ref_id=1))
        assert out['text'] == f'text {out["sent_id"]}'
        drawn.append(out['sent_id'])
    assert set(drawn) == {4, 9, 17}


def test_sample_expression_test_items_and_errors():
    item = dict(text='the dog', sent_id=3)
    assert SampleExpression()(dict(item)) == item
    with pytest.raises(ValueError, match='neither'):
        SampleExpression()(dict(img_path='a.jpg', ref_id=5))
    with pytest.raises(ValueError, match='empty "sentences"'):
        SampleExpression()(dict(sentences=[], ref_id=5))


def test_vocabulary_is_bert_base_uncased(tokenize, vocab):
    tokenizer = tokenize._get_tokenizer()
    assert len(vocab) == 30522 and len(tokenizer) == 30522
    assert (vocab['[PAD]'], vocab['[CLS]'], vocab['[SEP]']) == (PAD, CLS, SEP)
    assert tokenizer.pad_token_id == PAD


def test_short_expression(tokenize, vocab):
    out = tokenize(dict(text='Left square'))
    ids, mask = out['text_token_ids'], out['text_attention_mask']
    assert ids.dtype == np.int64 and mask.dtype == np.int64
    assert ids.shape == mask.shape == (20, )
    assert ids[:4].tolist() == [CLS, vocab['left'], vocab['square'], SEP]
    assert (ids[4:] == PAD).all()
    assert mask.tolist() == [1] * 4 + [0] * 16


def test_long_expression_cut_after_special_tokens(vocab, monkeypatch):
    calls = []
    monkeypatch.setattr(text_module, 'print_log',
                        lambda msg, logger=None, level=logging.INFO: calls.append((msg, level)))
    monkeypatch.setattr(TokenizeExpression, '_warned_truncation', False)
    transform = TokenizeExpression(max_tokens=20)
    words = ['dog', 'cat'] * 15  # 30 words, one token each
    out = transform(dict(text=' '.join(words)))
    ids = out['text_token_ids']
    assert ids.tolist() == [CLS] + [vocab[w] for w in words[:19]]
    assert SEP not in ids.tolist()
    assert out['text_attention_mask'].sum() == 20
    assert len(calls) == 1 and calls[0][1] == logging.WARNING and '32 tokens' in calls[0][0]
    transform(dict(text=' '.join(words)))
    assert len(calls) == 1  # once per process


def test_no_padding(vocab):
    transform = TokenizeExpression(max_tokens=6, pad_to_max=False)
    out = transform(dict(text='red block'))
    assert out['text_token_ids'].tolist() == [CLS, vocab['red'], vocab['block'], SEP]
    assert out['text_attention_mask'].tolist() == [1, 1, 1, 1]
    assert transform(dict(text='a b c d e f g'))['text_token_ids'].shape == (6, )


@pytest.mark.parametrize('text', ['', '   ', None])
def test_empty_text(tokenize, text):
    with pytest.raises(ValueError) as err:
        tokenize(dict(text=text, img_path='im.jpg', ref_id=7, sent_id=70))
    assert 'im.jpg' in str(err.value) and 'ref_id=7' in str(err.value)
    assert 'sent_id=70' in str(err.value)


def test_directory_without_tokenizer(tmp_path):
    (tmp_path / 'config.json').write_text('{}')
    transform = TokenizeExpression(tokenizer=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        transform(dict(text='a dog'))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        TokenizeExpression(tokenizer=str(tmp_path / 'missing'))
    with pytest.raises(ValueError, match='max_tokens'):
        TokenizeExpression(max_tokens=1)


def test_pickles_without_the_tokenizer(tokenize):
    tokenize(dict(text='warm it up'))
    assert tokenize._tokenizer is not None
    blob = pickle.dumps(tokenize)
    assert len(blob) < 2000
    clone = pickle.loads(blob)
    assert clone._tokenizer is None
    np.testing.assert_array_equal(
        clone(dict(text='the dog'))['text_token_ids'],
        tokenize(dict(text='the dog'))['text_token_ids'])
    assert repr(clone) == ("TokenizeExpression(tokenizer='all-MiniLM-L6-v2', max_tokens=20, "
                           'pad_to_max=True)')
