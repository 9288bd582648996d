# Copyright (c) mmamlris contributors. All rights reserved.
"""``RefCOCODataset`` on ``tests/data/refer_tiny`` (its table is in make_refer_tiny.py)."""
import json
import logging
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest

import mmamlris.datasets.refcoco as refcoco_module
from mmamlris.datasets import RefCOCODataset, SampleExpression
from mmamlris.registry import DATASETS

TEST_KEYS = {'img_path', 'img_id', 'height', 'width', 'ref_id', 'ann_id', 'sent_id', 'text',
             'category_id', 'segmentation', 'split'}
TRAIN_KEYS = TEST_KEYS - {'sent_id', 'text'} | {'sentences'}


def _items(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


# (split, refs kept = items in training mode, non-empty sentences = items in test mode)
@pytest.mark.parametrize('split, n_refs, n_sents', [
    ('train', 2, 5), ('val', 2, 3), ('testA', 2, 3), ('testB', 1, 1), ('test', 1, 1)])
@pytest.mark.parametrize('serialize_data', [True, False])
def test_item_counts(tiny_kwargs, split, n_refs, n_sents, serialize_data):
    train = RefCOCODataset(split=split, serialize_data=serialize_data, **tiny_kwargs)
    test = RefCOCODataset(split=split, test_mode=True, serialize_data=serialize_data,
                          **tiny_kwargs)
    assert len(train) == n_refs
    assert len(test) == n_sents
    assert {item['split'] for item in _items(train) + _items(test)} == {split}


def test_test_mode_items(tiny_kwargs, refer_tiny):
    dataset = RefCOCODataset(split='testA', test_mode=True, **tiny_kwargs)
    items = _items(dataset)
    for item in items:
        assert set(item) - {'sample_idx'} == TEST_KEYS
    assert sorted((i['ref_id'], i['sent_id'], i['text']) for i in items) == [
        (42, 50, 'square'), (42, 52, 'the square at the top left'), (57, 60, 'block')]
    by_sent = {i['sent_id']: i for i in items}
    first = by_sent[50]
    assert first['img_path'] == osp.join(refer_tiny, 'images', 'tiny_011.jpg')
    assert (first['img_id'], first['ann_id'], first['category_id']) == (11, 501, 1)
    assert (first['height'], first['width']) == (30, 40)
    assert first['segmentation'][0] == [5, 5, 15, 5, 15, 15, 5, 15]
    block = by_sent[60]
    assert (block['height'], block['width'], block['ann_id']) == (24, 32, 777)
    assert isinstance(block['segmentation'], dict)
    assert block['segmentation']['size'] == [24, 32]


def test_train_mode_items(tiny_kwargs):
    dataset = RefCOCODataset(split='train', **tiny_kwargs)
    items = {i['ref_id']: i for i in _items(dataset)}
    for item in items.values():
        assert set(item) - {'sample_idx'} == TRAIN_KEYS
    assert items[3]['sentences'] == [
        dict(sent_id=10, text='the big square on the left'),
        dict(sent_id=11, text='left square'), dict(sent_id=12, text='top left box')]
    # sentence 21 is whitespace only
    assert items[8]['sentences'] == [
        dict(sent_id=20, text='red block'), dict(sent_id=22, text='block near the top')]


def test_text_field_raw(tiny_kwargs):
    dataset = RefCOCODataset(split='train', text_field='raw', test_mode=True, **tiny_kwargs)
    texts = {i['sent_id']: i['text'] for i in _items(dataset)}
    assert texts[10] == 'The big square on the LEFT.'
    assert texts[20] == 'Red block'
    with pytest.raises(ValueError, match='text_field'):
        RefCOCODataset(split='train', text_field='tokens', **tiny_kwargs)


def test_metainfo_and_registry(tiny_kwargs):
    dataset = DATASETS.build(dict(type='RefCOCODataset', split='val', **tiny_kwargs))
    assert dataset.metainfo['classes'] == ('background', 'object')
    assert len(dataset.metainfo['palette']) == 2


def _record_warnings(monkeypatch):
    calls = []
    monkeypatch.setattr(refcoco_module, 'print_log',
                        lambda msg, logger=None, level=logging.INFO: calls.append((msg, level)))
    return calls


def test_empty_sentences_warn_once(tiny_kwargs, monkeypatch):
    calls = _record_warnings(monkeypatch)
    RefCOCODataset(split='testA', test_mode=True, **tiny_kwargs)
    assert len(calls) == 1
    msg, level = calls[0]
    assert level == logging.WARNING
    assert 'refs(unc).p' in msg
    # sentences 51 (ref 42) and 71 (ref 61, which has no other sentence)
    assert 'dropped 2 empty' in msg and '(42, 51)' in msg and '(61, 71)' in msg
    assert '1 refs left without' in msg

    calls.clear()
    RefCOCODataset(split='val', test_mode=True, **tiny_kwargs)
    assert calls == []


@pytest.mark.parametrize('split', ['nosuch', 'testa', 'tes'])
def test_unknown_split(tiny_kwargs, split):
    with pytest.raises(ValueError) as err:
        RefCOCODataset(split=split, **tiny_kwargs)
    msg = str(err.value)
    assert repr(split) in msg and 'refs(unc).p' in msg
    assert "['test', 'testA', 'testB', 'train', 'val']" in msg


def test_missing_files(tiny_kwargs, tmp_path):
    with pytest.raises(FileNotFoundError, match='no_such_root') as err:
        RefCOCODataset(**dict(tiny_kwargs, data_root=str(tmp_path / 'no_such_root')))
    assert 'tools/dataset_converters/synref.py' in str(err.value)
    assert 'docs/en/datasets.md' in str(err.value)
    with pytest.raises(FileNotFoundError, match='nothing.json'):
        RefCOCODataset(**dict(tiny_kwargs, ann_file='nothing.json'))
    with pytest.raises(FileNotFoundError, match=r'refs\(umd\).p'):
        RefCOCODataset(**dict(tiny_kwargs, split_file='refs(umd).p'))
    # lazy_init defers the check to the first use
    dataset = RefCOCODataset(lazy_init=True, **dict(tiny_kwargs, ann_file='nothing.json'))
    with pytest.raises(FileNotFoundError, match='nothing.json'):
        len(dataset)


def _copy_with_refs(refer_tiny, tmp_path, edit):
    """Copy the fixture's instances.json into tmp_path with the refs edited by ``edit``."""
    shutil.copy(osp.join(refer_tiny, 'instances.json'), tmp_path / 'instances.json')
    with open(osp.join(refer_tiny, 'refs(unc).p'), 'rb') as f:
        refs = pickle.load(f)
    edit(refs)
    with open(tmp_path / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f)
    return dict(data_root=str(tmp_path), ann_file='instances.json', split_file='refs(unc).p',
                data_prefix=dict(img_path='images/'))


@pytest.mark.parametrize('edit, pattern', [
    (lambda refs: refs[3].update(ann_id=123456), r'ref 16 .*ann_id 123456'),
    (lambda refs: refs[2].update(image_id=4242), r'ref 15 .*image_id 4242'),
    (lambda refs: refs[7].pop('sentences'), r"ref 99 has no 'sentences'"),
    (lambda refs: refs[0].pop('split'), r"ref 3 has no 'split'"),
    (lambda refs: refs[2]['sentences'][1].pop('sent'), r"ref 15 has no 'sent'"),
])
def test_bad_refs(refer_tiny, tmp_path, edit, pattern):
    kwargs = _copy_with_refs(refer_tiny, tmp_path, edit)
    with pytest.raises(ValueError, match=pattern) as err:
        RefCOCODataset(split='val', test_mode=True, **kwargs)
    assert 'refs(unc).p' in str(err.value)


def test_json_ids_and_file_names_used(refer_tiny, tmp_path):
    # file_name comes from instances.json (the ref's own file_name is ignored, as in REFER)
    kwargs = _copy_with_refs(refer_tiny, tmp_path, lambda refs: None)
    with open(tmp_path / 'instances.json') as f:
        coco = json.load(f)
    coco['images'][2]['file_name'] = 'renamed.jpg'
    with open(tmp_path / 'instances.json', 'w') as f:
        json.dump(coco, f)
    dataset = RefCOCODataset(split='testB', test_mode=True, **kwargs)
    assert dataset.get_data_info(0)['img_path'] == osp.join(str(tmp_path), 'images',
                                                            'renamed.jpg')


def test_train_sentence_resampled_every_visit(tiny_kwargs):
    dataset = RefCOCODataset(split='train', pipeline=[SampleExpression()], **tiny_kwargs)
    index = next(i for i in range(len(dataset)) if dataset.get_data_info(i)['ref_id'] == 3)
    np.random.seed(0)
    drawn = [dataset[index]['sent_id'] for _ in range(50)]
    # 3 sentences drawn uniformly 50 times: each appears (P(one missing) < 3 * (2/3)^50)
    assert set(drawn) == {10, 11, 12}
    np.random.seed(0)
    assert [dataset[index]['sent_id'] for _ in range(50)] == drawn
    texts = {dataset[index]['text'] for _ in range(20)}
    assert texts <= {'the big square on the left', 'left square', 'top left box'}
