# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef generator (tools/dataset_converters/synref.py): format, determinism, and whether
every expression names its object uniquely, checked by an independent little interpreter."""
import json
import math
import os
import os.path as osp
import pickle
import subprocess
import sys
from collections import Counter, defaultdict

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from mmamlris.datasets import synref
from mmamlris.datasets.refer_io import load_refs

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'dataset_converters', 'synref.py')

# The checker's own vocabulary (word -> attribute value), written from the spec, not imported.
COLOUR_OF = {'red': 'red', 'green': 'green', 'blue': 'blue', 'yellow': 'yellow',
             'purple': 'purple', 'violet': 'purple', 'orange': 'orange'}
SHAPE_OF = {'circle': 'circle', 'ball': 'circle', 'disk': 'circle', 'square': 'square',
            'box': 'square', 'block': 'square', 'triangle': 'triangle', 'star': 'star',
            'diamond': 'diamond', 'rhombus': 'diamond'}
SIZE_OF = {'small': 'small', 'little': 'small', 'tiny': 'small', 'large': 'large',
           'big': 'large'}
RELATION_OF = [('to the left of', 'left'), ('left of', 'left'), ('to the right of', 'right'),
               ('right of', 'right'), ('above', 'above'), ('over', 'above'),
               ('below', 'below'), ('under', 'below'), ('beneath', 'below'),
               ('next to', 'near'), ('closest to', 'near'), ('near', 'near')]
SUPERLATIVE_OF = {'leftmost': 'left', 'left': 'left', 'rightmost': 'right', 'right': 'right',
                  'topmost': 'top', 'top': 'top', 'highest': 'top', 'upper': 'top',
                  'bottom': 'bottom', 'lowest': 'bottom', 'lower': 'bottom'}
# Rough reference colours, to check that the pixels show the annotated colour.
RGB_OF = {'red': (215, 40, 40), 'green': (45, 160, 45), 'blue': (30, 90, 215),
          'yellow': (240, 210, 30), 'purple': (140, 60, 180), 'orange': (250, 130, 20)}


@pytest.fixture(scope='module')
def datasets(tmp_path_factory):
    """Three 12-image datasets (seeds 3, 3, 4) and a 60-image one for the language checks."""
    root = tmp_path_factory.mktemp('synref')
    out = {}
    for name, n, size, seed in (('a', 12, 64, 3), ('b', 12, 64, 3), ('c', 12, 64, 4),
                                ('big', 60, 96, 0)):
        path = str(root / name)
        out[name] = (path, synref.generate_synref(path, n, size, seed))
    return out


def _read(path):
    with open(osp.join(path, 'instances.json')) as f:
        coco = json.load(f)
    with open(osp.join(path, 'refs(unc).p'), 'rb') as f:
        refs = pickle.load(f)
    return coco, refs


def _files(path):
    names = ['instances.json', 'refs(unc).p'] + [
        osp.join('images', n) for n in sorted(os.listdir(osp.join(path, 'images')))]
    return {n: open(osp.join(path, n), 'rb').read() for n in names}


def test_same_seed_gives_identical_bytes(datasets):
    a, b = _files(datasets['a'][0]), _files(datasets['b'][0])
    assert len(a) == 12 + 2
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name


def test_different_seed_differs(datasets):
    a, c = _files(datasets['a'][0]), _files(datasets['c'][0])
    assert a['instances.json'] != c['instances.json']
    assert a['refs(unc).p'] != c['refs(unc).p']
    assert sum(a[n] != c.get(n) for n in a if n.startswith('images')) >= 10


@pytest.mark.parametrize('name', ['a', 'big'])
def test_instances_are_valid_coco(datasets, name):
    path, _ = datasets[name]
    coco, _ = _read(path)
    assert set(coco) == {'images', 'annotations', 'categories'}
    images = {img['id']: img for img in coco['images']}
    assert len(images) == len(coco['images'])
    categories = {c['id']: c['name'] for c in coco['categories']}
    assert len(set(categories.values())) >= 4
    assert len({a['id'] for a in coco['annotations']}) == len(coco['annotations'])
    per_image = Counter(a['image_id'] for a in coco['annotations'])
    assert set(per_image) == set(images)
    assert all(3 <= n <= 6 for n in per_image.values())
    for img in images.values():
        with Image.open(osp.join(path, 'images', img['file_name'])) as im:
            assert im.size == (img['width'], img['height']) and im.mode == 'RGB'
    for ann in coco['annotations']:
        img = images[ann['image_id']]
        h, w = img['height'], img['width']
        assert ann['iscrowd'] == 0 and ann['area'] > 0
        assert categories[ann['category_id']] == ann['attributes']['shape']
        assert isinstance(ann['segmentation'], list) and len(ann['segmentation']) == 1
        poly = np.array(ann['segmentation'][0]).reshape(-1, 2)
        assert len(poly) >= 3
        assert (poly[:, 0] >= 0).all() and (poly[:, 0] <= w).all()
        assert (poly[:, 1] >= 0).all() and (poly[:, 1] <= h).all()
        x, y, bw, bh = ann['bbox']
        assert [x, y] == pytest.approx(poly.min(axis=0), abs=0.011)
        assert [bw, bh] == pytest.approx(np.ptp(poly, axis=0), abs=0.011)
        # the decoded mask has about the polygon's area (shoelace, computed here)
        shoelace = 0.5 * abs(np.dot(poly[:, 0], np.roll(poly[:, 1], 1)) -
                             np.dot(poly[:, 1], np.roll(poly[:, 0], 1)))
        assert ann['area'] == pytest.approx(shoelace, rel=1e-3)
        mask = mask_utils.decode(mask_utils.merge(
            mask_utils.frPyObjects(ann['segmentation'], h, w)))
        assert abs(int(mask.sum()) - shoelace) <= 0.15 * shoelace + 10


def _clean(raw):
    """RefCOCO ``sent``: lower case without punctuation (written here independently)."""
    return ' '.join(''.join(ch if ch.isalnum() or ch == ' ' else ' '
                            for ch in raw.lower()).split())


@pytest.mark.parametrize('name', ['a', 'big'])
def test_refs_have_the_refcoco_fields_and_splits(datasets, name):
    path, stats = datasets[name]
    coco, refs = _read(path)
    assert load_refs(osp.join(path, 'refs(unc).p')) == refs   # the safe unpickler accepts it
    anns = {a['id']: a for a in coco['annotations']}
    images = {img['id']: img for img in coco['images']}
    split_of_image = {}
    sent_ids = []
    assert [r['ref_id'] for r in refs] == list(range(len(refs)))
    for ref in refs:
        assert set(ref) == {'ref_id', 'ann_id', 'image_id', 'split', 'category_id',
                            'file_name', 'sentences', 'sent_ids'}
        ann = anns[ref['ann_id']]
        assert ann['image_id'] == ref['image_id']
        assert ann['category_id'] == ref['category_id']
        stem = osp.splitext(images[ref['image_id']]['file_name'])[0]
        assert ref['file_name'] == f'{stem}_{ref["ann_id"]}.jpg'    # RefCOCO's naming
        assert 1 <= len(ref['sentences']) <= 3
        assert ref['sent_ids'] == [s['sent_id'] for s in ref['sentences']]
        for s in ref['sentences']:
            assert set(s) == {'sent_id', 'sent', 'raw', 'tokens'}
            assert s['raw'].strip() and s['sent'] == _clean(s['raw'])
            assert s['tokens'] == s['sent'].split() and s['tokens']
        assert len({s['sent'] for s in ref['sentences']}) == len(ref['sentences'])
        sent_ids += ref['sent_ids']
        # all refs of an image share one split
        assert split_of_image.setdefault(ref['image_id'], ref['split']) == ref['split']
    assert len(set(sent_ids)) == len(sent_ids)
    per_image = Counter(r['image_id'] for r in refs)
    assert all(1 <= n <= 3 for n in per_image.values())
    assert set(per_image) == set(images)            # every image has a referred object
    image_splits = Counter(split_of_image.values())
    assert set(image_splits) == {'train', 'val', 'testA', 'testB'}
    n = len(images)
    assert image_splits['val'] == image_splits['testA'] == max(1, int(0.1 * n))
    assert image_splits['train'] == n - 2 * max(1, int(0.1 * n)) - image_splits['testB']
    # the returned statistics agree with the files
    for split in ('train', 'val', 'testA', 'testB'):
        part = [r for r in refs if r['split'] == split]
        assert stats['splits'][split] == dict(
            images=image_splits[split], refs=len(part),
            sentences=sum(len(r['sentences']) for r in part))
    assert stats['objects_per_image'] == pytest.approx(len(anns) / n)
    assert stats['vocabulary_size'] == len({t for r in refs for s in r['sentences']
                                            for t in s['tokens']})


def _position(ann):
    x, y, w, h = ann['bbox']
    return x + w / 2, y + h / 2


def _attrs_in(words):
    """The attribute values a phrase names; a second, different value is an error."""
    found = {}
    for word in words:
        for attr, table in (('colour', COLOUR_OF), ('shape', SHAPE_OF), ('size', SIZE_OF)):
            if word in table:
                assert found.setdefault(attr, table[word]) == table[word], words
    return found


def _matching(objects, attrs):
    return [o for o in objects if all(o['attributes'][k] == v for k, v in attrs.items())]


def _resolve(sent, objects):
    """The objects a sentence designates under the plain reading of its words."""
    padded = f' {sent} '
    relation = next(((m, r) for m, r in RELATION_OF if f' {m} ' in padded), None)
    if relation is None:
        head, landmark_words = sent.split(), None
    else:
        head_text, landmark_text = padded.split(f' {relation[0]} ', 1)
        head, landmark_words = head_text.split(), landmark_text.split()
    head_attrs = _attrs_in(head)
    assert head_attrs, f'{sent!r} names no attribute of its object'
    candidates = _matching(objects, head_attrs)
    superlatives = {SUPERLATIVE_OF[w] for w in head if w in SUPERLATIVE_OF}
    assert len(superlatives) <= 1, sent
    if landmark_words is not None:
        landmarks = _matching(objects, _attrs_in(landmark_words))
        assert len(landmarks) == 1, f'landmark of {sent!r} is ambiguous'
        lx, ly = _position(landmarks[0])
        candidates = [o for o in candidates if o is not landmarks[0]]
        pos = {id(o): _position(o) for o in candidates}
        rel = relation[1]
        if rel == 'near':
            return [min(candidates, key=lambda o: math.dist(pos[id(o)], (lx, ly)))]
        keep = dict(left=lambda p: p[0] < lx, right=lambda p: p[0] > lx,
                    above=lambda p: p[1] < ly, below=lambda p: p[1] > ly)[rel]
        candidates = [o for o in candidates if keep(pos[id(o)])]
    if superlatives:
        direction = superlatives.pop()
        key = dict(left=lambda o: _position(o)[0], right=lambda o: -_position(o)[0],
                   top=lambda o: _position(o)[1], bottom=lambda o: -_position(o)[1])[direction]
        return [min(candidates, key=key)]
    return candidates


@pytest.mark.parametrize('name', ['a', 'big'])
def test_every_expression_names_its_object_uniquely(datasets, name):
    path, _ = datasets[name]
    coco, refs = _read(path)
    objects_of = defaultdict(list)
    for ann in coco['annotations']:
        objects_of[ann['image_id']].append(ann)
    kinds = Counter()
    for ref in refs:
        objects = objects_of[ref['image_id']]
        for s in ref['sentences']:
            found = _resolve(s['sent'], objects)
            assert [o['id'] for o in found] == [ref['ann_id']], (s['sent'], ref, objects)
            words = set(s['tokens'])
            relational = set(SUPERLATIVE_OF) | {'of', 'above', 'over', 'below', 'under',
                                                'beneath', 'near', 'next', 'closest'}
            kinds['spatial' if words & relational else 'attributes'] += 1
    if name == 'big':
        # both kinds of expressions occur
        assert kinds['spatial'] >= 10 and kinds['attributes'] >= 10, kinds


def test_distractors_share_shape_or_colour(datasets):
    path, stats = datasets['big']
    coco, refs = _read(path)
    anns = {a['id']: a for a in coco['annotations']}
    shared = 0
    for ref in refs:
        target = anns[ref['ann_id']]
        others = [a for a in coco['annotations']
                  if a['image_id'] == target['image_id'] and a['id'] != target['id']]
        t = target['attributes']
        shared += any(o['attributes']['shape'] == t['shape'] or
                      o['attributes']['colour'] == t['colour'] for o in others)
    assert shared / len(refs) >= 0.8
    assert stats['same_shape_distractor_fraction'] >= 0.5
    assert stats['same_colour_distractor_fraction'] >= 0.5


def _colour_share(path, img, mask, colour):
    """Share of the pixels inside ``mask`` (eroded by a pixel) nearest to ``colour``."""
    palette, names = np.array(list(RGB_OF.values()), dtype=np.float32), list(RGB_OF)
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    pixels = np.asarray(Image.open(osp.join(path, 'images', img['file_name'])),
                        dtype=np.float32)[inner]
    nearest = np.linalg.norm(pixels[:, None] - palette[None], axis=-1).argmin(1)
    return np.mean([names[k] == colour for k in nearest])


def test_referred_objects_are_visible_in_their_colour(datasets):
    """Inside each GT polygon (eroded by a pixel), the pixels have the annotated colour."""
    path, refs, anns, images = _big(datasets)
    for ref in refs:
        ann = anns[ref['ann_id']]
        img = images[ann['image_id']]
        share = _colour_share(path, img, _decode(ann, img), ann['attributes']['colour'])
        assert share >= 0.9, (ref, share)


def _big(datasets):
    """The 60-image dataset: its path, refs, annotations by id and images by id."""
    path, _ = datasets['big']
    coco, refs = _read(path)
    return (path, refs, {a['id']: a for a in coco['annotations']},
            {img['id']: img for img in coco['images']})


def _decode(ann, img):
    return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(
        ann['segmentation'], img['height'], img['width']))).astype(bool)


def test_referred_objects_are_drawn_on_top(datasets):
    """Where a referred object's polygon overlaps another object of another colour, the
    pixels show the referred object's colour: its polygon is its visible outline."""
    path, refs, anns, images = _big(datasets)
    palette, names = np.array(list(RGB_OF.values()), dtype=np.float32), list(RGB_OF)
    overlap_pixels = target_coloured = 0
    for ref in refs:
        target = anns[ref['ann_id']]
        img = images[target['image_id']]
        target_mask = _decode(target, img)
        pixels = np.asarray(Image.open(osp.join(path, 'images', img['file_name'])),
                            dtype=np.float32)
        for other in anns.values():
            if (other['image_id'] != img['id'] or other['id'] == target['id']
                    or other['attributes']['colour'] == target['attributes']['colour']):
                continue
            overlap = target_mask & _decode(other, img)
            nearest = np.linalg.norm(pixels[overlap][:, None] - palette[None],
                                     axis=-1).argmin(1)
            overlap_pixels += int(overlap.sum())
            target_coloured += sum(names[k] == target['attributes']['colour']
                                   for k in nearest)
    assert overlap_pixels >= 20          # the scenes do have slight overlaps
    assert target_coloured >= 0.8 * overlap_pixels


def test_loads_with_refcoco_dataset(datasets):
    from mmamlris.datasets import RefCOCODataset
    path, stats = datasets['a']
    for split in ('train', 'val', 'testA', 'testB'):
        ds = RefCOCODataset(data_root=path, ann_file='instances.json',
                            split_file='refs(unc).p', data_prefix=dict(img_path='images/'),
                            split=split, test_mode=True, pipeline=[])
        assert len(ds) == stats['splits'][split]['sentences']
        assert osp.isfile(ds[0]['img_path'])


def test_square_images_without_jitter(tmp_path):
    synref.generate_synref(str(tmp_path), 4, 48, 1, aspect_jitter=0)
    coco, _ = _read(str(tmp_path))
    assert {(i['width'], i['height']) for i in coco['images']} == {(48, 48)}


def test_refuses_to_overwrite_and_bad_arguments(tmp_path):
    synref.generate_synref(str(tmp_path), 4, 48, 1)
    with pytest.raises(FileExistsError, match='overwrite'):
        synref.generate_synref(str(tmp_path), 4, 48, 1)
    synref.generate_synref(str(tmp_path), 2, 48, 1, overwrite=True)
    assert len(os.listdir(tmp_path / 'images')) == 2     # stale images are removed
    with pytest.raises(ValueError, match='num_images'):
        synref.generate_synref(str(tmp_path / 'x'), 0, 48, 1)
    with pytest.raises(ValueError, match='img_size'):
        synref.generate_synref(str(tmp_path / 'x'), 2, 8, 1)


def test_command_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    help_text = subprocess.run([sys.executable, SCRIPT, '--help'], capture_output=True,
                               text=True, check=True, env=env).stdout
    assert '70 / 10 / 10 / 10 %' in ' '.join(help_text.split())
    out = tmp_path / 'cli'
    result = subprocess.run(
        [sys.executable, SCRIPT, '--out', str(out), '--num-images', '5', '--img-size', '48',
         '--seed', '2', '--stats', '--overlap', '0.5'], capture_output=True, text=True,
        env=env)
    assert result.returncode == 0, result.stderr
    assert 'vocabulary size' in result.stdout and 'testB' in result.stdout
    assert 'Overlap 0.5:' in result.stdout and 'partly hidden' in result.stdout
    assert (out / 'instances.json').is_file() and (out / 'refs(unc).p').is_file()
    again = subprocess.run([sys.executable, SCRIPT, '--out', str(out), '--num-images', '5'],
                           capture_output=True, text=True, env=env)
    assert again.returncode != 0 and '--overwrite' in again.stderr


# Recorded with the single-module generator of commit 45c8763, before it was split into
# scene / language / render / writer / stats: sha256 of the annotation files (instances.json,
# refs(unc).p, grefs(unc).json, byte by byte, in name order) and of the rendered pixels of
# every image (file name + RGB array as handed to the JPEG writer, which keeps the hash
# independent of the libjpeg build).
RECORDED = [
    (dict(num_images=12, img_size=64, seed=0),
     '8135a02495073f6ef98300113fcc3345dc3cc61c33527d892d2cc592d367f8d8',
     '7713235488fa611a029d9a098322f7d2d30f7bb748af9265b97fc23995f8f20a'),
    (dict(num_images=10, img_size=96, seed=7, gres=True, no_target_ratio=0.3),
     'd0a0640ce649bbbf3aa7b3d9287eca8f59eae084384093a1122feec4cffe166b',
     '8bfa0949f37f78300fc51c690f9523c61393d925ea7e094616020cc990d47a37'),
]


@pytest.mark.parametrize('kwargs, files_sha, pixels_sha', RECORDED)
def test_output_is_what_the_generator_wrote_before_its_split(kwargs, files_sha, pixels_sha,
                                                             tmp_path, monkeypatch):
    import hashlib

    from mmamlris.datasets.synref import generator
    pixels = hashlib.sha256()
    real = generator.write_jpeg

    def write_jpeg(image, path):
        pixels.update(os.path.basename(path).encode())
        pixels.update(np.asarray(image).tobytes())
        real(image, path)

    monkeypatch.setattr(generator, 'write_jpeg', write_jpeg)
    synref.generate_synref(str(tmp_path), **kwargs)
    files = hashlib.sha256()
    for name in sorted(os.listdir(tmp_path)):
        if name != 'images':
            files.update(name.encode())
            files.update((tmp_path / name).read_bytes())
    assert (files.hexdigest(), pixels.hexdigest()) == (files_sha, pixels_sha)


@pytest.fixture(scope='module')
def overlapping(tmp_path_factory):
    """A 40-image SynRef with heavy overlap (and its gRefCOCO file)."""
    path = str(tmp_path_factory.mktemp('synref_overlap'))
    stats = synref.generate_synref(path, 40, 96, 5, overlap=0.7, gres=True)
    return path, stats


def test_visible_masks_follow_the_drawing_order():
    from mmamlris.datasets.synref.overlap import drawing_order, visible_masks
    a = np.zeros((4, 6), bool)
    a[:, :4] = True
    b = np.zeros((4, 6), bool)
    b[:, 2:] = True
    under_b, top_b = visible_masks([a, b], [0, 1])
    assert under_b.sum() == 8 and top_b.sum() == 16  # b drawn last covers a's columns 2-3
    top_a, under_a = visible_masks([a, b], [1, 0])
    assert top_a.sum() == 16 and under_a.sum() == 8
    small = np.zeros((4, 6), bool)
    small[1, 1] = True  # inside a: only an order that draws it after a keeps it visible
    order, visible = drawing_order(np.random.default_rng(0), [a, small])
    assert order == [0, 1] and visible[1].sum() == 1


def test_overlap_annotations_are_the_visible_regions(overlapping):
    """Visible regions of one image are disjoint and non-empty; every referred object shows
    its own colour over its whole annotated region (so no hidden part is in its GT), and
    some referred objects are partly hidden."""
    path, stats = overlapping
    coco, refs = _read(path)
    images = {img['id']: img for img in coco['images']}
    anns = {a['id']: a for a in coco['annotations']}
    by_image = defaultdict(list)
    for ann in coco['annotations']:
        assert isinstance(ann['segmentation'], dict)  # RLE
        mask = mask_utils.decode(ann['segmentation']).astype(bool)
        assert mask.sum() == ann['area'] > 0
        by_image[ann['image_id']].append(mask)
    for masks in by_image.values():
        assert (np.sum(masks, axis=0) <= 1).all()
    for ref in refs:
        ann = anns[ref['ann_id']]
        img = images[ann['image_id']]
        mask = mask_utils.decode(ann['segmentation']).astype(bool)
        assert _colour_share(path, img, mask, ann['attributes']['colour']) >= 0.9
    assert 0.1 < stats['overlap']['referred_partly_hidden'] < 1.0
    assert 0.5 <= stats['overlap']['referred_visible_share'] < 1.0


def test_overlap_sets_load_and_decode(overlapping):
    from mmamlris.datasets import GRefCOCODataset, RefCOCODataset
    from mmamlris.datasets.transforms import LoadReferringMask
    path, _ = overlapping
    common = dict(data_root=path, ann_file='instances.json',
                  data_prefix=dict(img_path='images/'), split='val', test_mode=True,
                  pipeline=[])
    ref = RefCOCODataset(split_file='refs(unc).p', **common)[0]
    assert LoadReferringMask()(dict(ref))['gt_seg_map'].sum() > 0
    gres = GRefCOCODataset(split_file='grefs(unc).json', **common)
    multi = next(gres[i] for i in range(len(gres)) if len(gres[i]['segmentations']) > 1)
    assert LoadReferringMask()(dict(multi))['gt_seg_map'].sum() > 0


def test_overlap_is_deterministic_and_checked(tmp_path):
    synref.generate_synref(str(tmp_path / 'a'), 6, 64, 1, overlap=0.6)
    synref.generate_synref(str(tmp_path / 'b'), 6, 64, 1, overlap=0.6)
    assert _files(str(tmp_path / 'a')) == _files(str(tmp_path / 'b'))
    with pytest.raises(ValueError, match=r'overlap must be in \[0, 1\)'):
        synref.generate_synref(str(tmp_path / 'c'), 2, 64, 1, overlap=1.0)


def test_expression_form_reads_back_the_form_of_every_template():
    """``expression_form`` recovers the kind and the referent's named attributes of every
    spatial template (never the landmark's), and of every form the generator realises."""
    from mmamlris.datasets.synref import expression_form, language
    phrases = {(): 'one', ('shape', ): 'ball', ('colour', ): 'red thing',
               ('size', 'shape'): 'big box', ('colour', 'shape'): 'violet rhombus',
               ('size', 'colour'): 'little orange object',
               ('size', 'colour', 'shape'): 'tiny green star'}
    tables = (('superlative', language._SUPERLATIVE_TEMPLATES),
              ('superlative', language._PAIR_TEMPLATES),
              ('relation', language._RELATION_TEMPLATES))
    for kind, table in tables:
        for template in (t for templates in table.values() for t in templates):
            for attrs, phrase in phrases.items():
                sentence = template.format(np=phrase, lm='large blue square')
                assert expression_form(sentence) == (kind, attrs), sentence
    rng = np.random.default_rng(0)
    seen = Counter()
    for _ in range(40):
        objects, refs = synref.generator._make_scene(rng, 160, 160)
        for target, _, _ in refs:
            attr_forms, spatial = language._referring_forms(objects, target, 12.8)
            for form in attr_forms + spatial:
                for _ in range(4):
                    raw = language._as_written(rng, language._realise(rng, objects, target,
                                                                      form))
                    assert expression_form(raw) == (form.kind, form.attrs), (raw, form)
                    seen[form.kind] += 1
    assert min(seen[k] for k in ('attr', 'superlative', 'relation')) >= 20, seen
