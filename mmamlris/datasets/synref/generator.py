# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef, a synthetic referring segmentation dataset in the RefCOCO (REFER) layout.

:func:`generate_synref` writes it; the command line is
``tools/dataset_converters/synref.py``::

    python tools/dataset_converters/synref.py --out data/synref --num-images 2000 \\
        --img-size 160 --seed 0 [--stats]

Layout (exactly that of RefCOCO, see ``docs/en/datasets.md``)::

    OUT/images/synref_000001.jpg ...
    OUT/instances.json   COCO: images {id, file_name, height, width}, annotations {id, image_id,
                         category_id, segmentation (polygons), area, bbox, iscrowd=0,
                         attributes={shape, colour, size}}, categories {id, name, supercategory}
    OUT/refs(unc).p      pickled list (protocol 2, like RefCOCO's Python 2 pickles) of refs
                         {ref_id, ann_id, image_id, split, category_id, file_name,
                          sentences=[{sent_id, sent, raw, tokens}], sent_ids}

Splits: 70 / 10 / 10 / 10 % of the **images** go to train / val / testA / testB, and all refs of
an image share its split, as in RefCOCO's unc split (here testA and testB are drawn alike).

Scenes. Every image (each side drawn in ``[1 - j, 1 + j] * img_size``, ``j = aspect_jitter``)
holds 3-6 objects: 5 shapes (circle, square, triangle, star, diamond), 6 colours, 2 sizes
(small/large, radii about 1:1.8), on a background made of a colour gradient, faint stripes,
blotches and pixel noise, all drawn anew per image. Objects are sampled so that most of them
share the shape or the colour of another one (the distractors that make the words matter).

Expressions. 1-3 objects per image are referred to. Each ref names its object uniquely with:

* attributes: the shortest unique combination of shape / colour / size ("the red circle",
  "the small star", "the blue one"), or
* a spatial superlative over the objects that share the named attributes ("the leftmost
  triangle", "the red square at the top"), or a relation to a uniquely named landmark ("the
  green star right of the blue square", "the circle next to the yellow diamond"), used when
  attributes alone are ambiguous and, sometimes, as a paraphrase. Spatial words need a margin
  (8 % of the shorter image side) between the target and the other candidates; positions are the
  centres of the objects' bounding boxes.

Each ref has 1-3 paraphrases (other templates, synonyms such as ball/disk, box/block, big/large,
or another valid description). ``raw`` is the sentence as written (sometimes capitalised, with
a full stop), ``sent`` its lower-case form without punctuation, ``tokens`` the words of ``sent``.

Occlusion. Objects may overlap slightly (bounding circles may overlap by 10 % of the sum of
their radii). The referred objects of an image do not overlap each other and are drawn
**last**, so each ground-truth polygon (the object's full outline; circles as 40-gons) is
exactly its visible region; only non-referred objects can be partly hidden. ``overlap``
(``--overlap``) makes a test set with more overlap, random drawing order and visible-region
RLE annotations instead (:mod:`mmamlris.datasets.synref.overlap`).

Determinism. The output depends only on the arguments: every image has its own generator
``numpy.random.default_rng([seed, image_index])`` (so an image does not depend on the others
or on timing), the split permutation comes from ``default_rng(seed)``, JPEGs are written with
fixed settings and the JSON / pickle files with fixed key order and protocol.

:func:`generate_synref` returns the statistics (:func:`format_stats` prints them).
"""
import glob
import os
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np

from .gres import gres_refs
from .language import _MARGIN, _choose_refs, clean_sentence
from .render import _render
from .overlap import drawing_order, full_masks, rle_annotation
from .scene import _OVERLAP as _GAP
from .scene import SHAPES, _image_size, _Object, _place_objects, _sample_attributes
from .stats import _StatsCounter
from .writer import write_annotations, write_grefs, write_jpeg

SPLITS: Tuple[Tuple[str, float], ...] = (('train', 0.7), ('val', 0.1), ('testA', 0.1),
                                         ('testB', 0.1))


def _split_of_images(num_images: int, seed: int) -> List[str]:
    """The split of every image: a seeded permutation cut at the :data:`SPLITS` ratios (each
    split gets at least one image when there are enough)."""
    counts = [num_images * int(round(ratio * 100)) // 100 for _, ratio in SPLITS]
    counts[0] += num_images - sum(counts)
    if num_images >= len(SPLITS):
        for k in range(1, len(SPLITS)):
            if counts[k] == 0:
                counts[k] = 1
                counts[0] -= 1
    names = [name for (name, _), n in zip(SPLITS, counts) for _ in range(n)]
    order = np.random.default_rng(seed).permutation(num_images)
    splits = [''] * num_images
    for pos, image_index in enumerate(order):
        splits[image_index] = names[pos]
    return splits


def _make_scene(rng: np.random.Generator, width: int, height: int, gap: float = _GAP
                ) -> Tuple[List[_Object], List[Tuple[int, List[str], bool]]]:
    """Objects, the indices of the referred ones and their sentences."""
    margin = _MARGIN * min(width, height)
    n_objects = int(rng.integers(3, 7))
    n_refs = int(rng.integers(1, 4))
    refs: List[Tuple[int, List[str], bool]] = []
    while not refs:   # redraw the rare scenes where no object can be named uniquely
        objects: List[_Object] = []
        while len(objects) < 3:   # at least 3 objects (a crowded draw is redrawn)
            objects = _place_objects(rng, width, height, _sample_attributes(rng, n_objects),
                                     gap)
        refs = _choose_refs(rng, objects, n_refs, margin)
    return objects, refs


def _make_overlapping_scene(rng: np.random.Generator, width: int, height: int, gap: float):
    """A scene drawn in a random order under which every object stays half visible (the
    scene is drawn again until one is found): objects, refs, order, visible and full masks."""
    while True:
        objects, refs = _make_scene(rng, width, height, gap)
        full = full_masks(objects, height, width)
        found = drawing_order(rng, full)
        if found is not None:
            order, visible = found
            return objects, refs, order, visible, full


def generate_synref(out_dir: str,
                    num_images: int = 2000,
                    img_size: int = 160,
                    seed: int = 0,
                    aspect_jitter: float = 0.25,
                    overwrite: bool = False,
                    progress: bool = False,
                    gres: bool = False,
                    no_target_ratio: float = 0.2,
                    overlap: Optional[float] = None) -> dict:
    """Write SynRef to ``out_dir`` (see the module docstring) and return its statistics.

    Args:
        out_dir (str): Output directory; ``images/``, ``instances.json`` and ``refs(unc).p``
            are written in it.
        num_images (int): Number of images. Defaults to 2000.
        img_size (int): Nominal image side S. Defaults to 160.
        seed (int): Random seed; the same arguments give byte-identical files. Defaults to 0.
        aspect_jitter (float): Each image side is drawn in ``[(1 - j) S, (1 + j) S]``; 0 gives
            S x S images. Defaults to 0.25.
        overwrite (bool): Replace a dataset already in ``out_dir``. Defaults to False.
        progress (bool): Show a tqdm progress bar. Defaults to False.
        gres (bool): Also write ``grefs(unc).json`` (gRefCOCO layout): every ref of
            ``refs(unc).p`` as a single-target expression, plus multi-target and no-target
            expressions (:func:`~mmamlris.datasets.synref.gres.gres_expressions`). The REFER
            files are the same with and without it. Defaults to False.
        no_target_ratio (float): With ``gres``, the probability that an image gets a
            no-target expression. Defaults to 0.2.
        overlap (float, optional): Scenes with overlapping objects (a robustness test set):
            bounding circles may overlap by this fraction of the sum of their radii (the
            default scenes: 0.1), objects are drawn in random order, so a referred object
            may be partly hidden, and each annotation is the object's visible region (RLE);
            every object shows at least half of its area (:mod:`.overlap`). None (default)
            gives the default scenes, unchanged.

    Returns:
        dict: Statistics (see :func:`format_stats`).

    Raises:
        ValueError: On invalid arguments.
        FileExistsError: If ``out_dir`` already holds a dataset and ``overwrite`` is False.
    """
    if num_images < 1:
        raise ValueError(f'num_images must be at least 1, got {num_images}.')
    if img_size < 32:
        raise ValueError(f'img_size must be at least 32 pixels, got {img_size}.')
    if not 0 <= aspect_jitter < 1:
        raise ValueError(f'aspect_jitter must be in [0, 1), got {aspect_jitter}.')
    if not 0 <= no_target_ratio <= 1:
        raise ValueError(f'no_target_ratio must be in [0, 1], got {no_target_ratio}.')
    if overlap is not None and not 0 <= overlap < 1:
        raise ValueError(f'overlap must be in [0, 1), got {overlap}.')
    ann_path = osp.join(out_dir, 'instances.json')
    refs_path = osp.join(out_dir, 'refs(unc).p')
    img_dir = osp.join(out_dir, 'images')
    if osp.exists(ann_path) or osp.exists(refs_path):
        if not overwrite:
            raise FileExistsError(f'{out_dir} already holds a dataset (instances.json or '
                                  'refs(unc).p); pass overwrite=True (--overwrite) to replace '
                                  'it, or choose another directory.')
        for path in glob.glob(osp.join(img_dir, 'synref_*.jpg')):
            os.remove(path)
    os.makedirs(img_dir, exist_ok=True)

    splits = _split_of_images(num_images, seed)
    categories = [dict(id=k + 1, name=name, supercategory='shape')
                  for k, name in enumerate(SHAPES)]
    cat_id = {c['name']: c['id'] for c in categories}
    images, annotations, refs, grefs = [], [], [], []
    stats = _StatsCounter([name for name, _ in SPLITS])
    shares: List[float] = []  # with overlap: the visible share of each referred object
    indices = range(num_images)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc='SynRef', unit='img')
    for index in indices:
        rng = np.random.default_rng([seed, index])
        width, height = _image_size(rng, img_size, aspect_jitter)
        if overlap is None:
            objects, scene_refs = _make_scene(rng, width, height)
            referred = [i for i, _, _ in scene_refs]
            order = [i for i in range(len(objects)) if i not in referred] + referred
            visible = None
        else:
            objects, scene_refs, order, visible, full = _make_overlapping_scene(
                rng, width, height, 1.0 - overlap)
            shares += [float(visible[i].sum()) / max(int(full[i].sum()), 1)
                       for i, _, _ in scene_refs]
        image = _render(rng, width, height, objects, order)
        image_id = index + 1
        file_name = f'synref_{image_id:06d}.jpg'
        write_jpeg(image, osp.join(img_dir, file_name))
        images.append(dict(id=image_id, file_name=file_name, height=height, width=width))

        ann_ids = []
        for k, obj in enumerate(objects):
            ann_id = len(annotations) + 1
            ann_ids.append(ann_id)
            region = dict(segmentation=[[round(float(v), 2) for v in obj.polygon.reshape(-1)]],
                          area=round(obj.area, 2), bbox=[round(v, 2) for v in obj.bbox])
            if visible is not None:
                region = rle_annotation(visible[k])
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=image_id,
                    category_id=cat_id[obj.shape],
                    **region,
                    iscrowd=0,
                    attributes=dict(shape=obj.shape, colour=obj.colour, size=obj.size)))
        for i, raw_sentences, spatial in scene_refs:
            sentences = []
            for raw in raw_sentences:
                sent = clean_sentence(raw)
                sentences.append(
                    dict(sent_id=stats.num_sentences, sent=sent, raw=raw,
                         tokens=sent.split()))
                stats.num_sentences += 1
            refs.append(
                dict(
                    ref_id=len(refs),
                    ann_id=ann_ids[i],
                    image_id=image_id,
                    split=splits[index],
                    category_id=cat_id[objects[i].shape],
                    file_name=f'synref_{image_id:06d}_{ann_ids[i]}.jpg',
                    sentences=sentences,
                    sent_ids=[s['sent_id'] for s in sentences]))
            stats.add_ref(refs[-1], objects, i, width * height, spatial)
        stats.add_image(splits[index], len(objects))
        if gres:
            grefs += gres_refs(np.random.default_rng([seed, index, 1]), objects, ann_ids,
                               refs[len(refs) - len(scene_refs):], image_id, splits[index],
                               cat_id, no_target_ratio, start=len(grefs))

    write_annotations(out_dir, images, annotations, categories, refs)
    summary = stats.summary()
    if overlap is not None:
        summary['overlap'] = dict(
            overlap=overlap, referred_partly_hidden=float(np.mean([v < 1.0 for v in shares])),
            referred_visible_share=float(np.mean(shares)))
    if gres:
        write_grefs(out_dir, grefs)
        summary['gres'] = dict(
            expressions=len(grefs),
            multi_target=sum(len(r['ann_id']) > 1 for r in grefs),
            no_target=sum(r['no_target'] for r in grefs))
    return summary
