# Copyright (c) mmamlris contributors. All rights reserved.
"""Corrupt (ImageNet-C via imagecorruptions, adapted to NumPy 2) and OccludeReferent."""
import math
import sys

import numpy as np
import pytest

from mmamlris.datasets import RefCOCODataset
from mmamlris.datasets.transforms import (BENCHMARK_CORRUPTIONS, HELD_OUT_CORRUPTIONS, Corrupt,
                                          LoadReferringMask, LoadRISImageFromFile,
                                          OccludeReferent)
from mmamlris.datasets.transforms import image_corruptions
from mmamlris.utils import InputValueError

# Monotone in every step on these SynRef images (one random draw per image for all
# severities). Glass blur, snow and frost are not: their parameters do not all grow from one
# severity to the next (ImageNet-C's tables), and frost's blend can even end nearer the clean
# image at severity 5 than at 1 (it darkens the image less than it adds frost).
STEPWISE_MONOTONE = ('gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur',
                     'motion_blur', 'zoom_blur', 'fog', 'brightness', 'contrast',
                     'elastic_transform', 'pixelate', 'jpeg_compression')


@pytest.fixture(scope='module')
def synref_samples(tmp_path_factory):
    """Two loaded SynRef samples (image at its original size, annotation, no GT yet)."""
    from mmamlris.datasets.synref import generate_synref
    root = str(tmp_path_factory.mktemp('synref'))
    generate_synref(root, num_images=6, img_size=64, seed=0)
    dataset = RefCOCODataset(data_root=root, ann_file='instances.json',
                             split_file='refs(unc).p', data_prefix=dict(img_path='images/'),
                             split='train', test_mode=True, pipeline=[])
    return [LoadRISImageFromFile()(dict(dataset[i])) for i in (0, 3)]


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).mean())


@pytest.mark.parametrize('name', BENCHMARK_CORRUPTIONS + HELD_OUT_CORRUPTIONS)
def test_every_corruption_is_applied_and_reproducible(name, synref_samples):
    results = dict(synref_samples[0])
    clean = results['img'].copy()
    out = Corrupt(name, 3)(dict(results))
    assert out['img'].shape == clean.shape and out['img'].dtype == np.uint8
    assert out['img'].flags.c_contiguous
    assert _distance(out['img'], clean) > 1.0  # the image changed visibly
    assert np.array_equal(results['img'], clean)  # the input array is not modified
    assert out['corruption'] == name and out['corruption_severity'] == 3
    again = Corrupt(name, 3)(dict(results))
    assert np.array_equal(out['img'], again['img'])  # seeded per image


@pytest.mark.parametrize('name', BENCHMARK_CORRUPTIONS)
def test_higher_severity_moves_the_image_further(name, synref_samples):
    for results in synref_samples:
        clean = results['img']
        distances = [_distance(Corrupt(name, s)(dict(results))['img'], clean)
                     for s in (1, 2, 3, 4, 5)]
        if name != 'frost':
            assert distances[4] > distances[0], distances
        if name in STEPWISE_MONOTONE:
            assert all(b > a for a, b in zip(distances, distances[1:])), distances


def test_the_cache_corrupts_an_image_once_and_returns_the_same_pixels(
        synref_samples, monkeypatch):
    from mmamlris.datasets.transforms import corrupt as corrupt_module
    calls = []
    real = corrupt_module.corrupt_image
    monkeypatch.setattr(corrupt_module, 'corrupt_image',
                        lambda *args: calls.append(args[1:]) or real(*args))
    first = dict(synref_samples[0])
    second = dict(first, img_path=first['img_path'] + '.another.png')
    uncached = Corrupt('fog', 2)(dict(first))['img']
    cached = Corrupt('fog', 2, cache=1)
    out = cached(dict(first))
    out['img'][:] = 0  # a later transform writing into its image does not reach the cache
    again = cached(dict(first))
    assert np.array_equal(again['img'], uncached) and again['corruption'] == 'fog'
    assert len(calls) == 2  # the uncached call and the first cached one
    cached(dict(second))  # a second image evicts the first (cache=1) ...
    cached(dict(first))
    assert len(calls) == 4  # ... which is corrupted again
    no_path = {k: v for k, v in first.items() if k != 'img_path'}
    cached(dict(no_path))
    cached(dict(no_path))
    assert len(calls) == 6  # without a file name nothing is cached


def test_the_corruption_is_applied_to_rgb_and_returned_as_bgr(synref_samples):
    # brightness raises V in HSV: a BGR/RGB mix-up would still brighten, so compare with the
    # package's own call on the RGB image
    results = dict(synref_samples[0])
    bgr = results['img']
    from mmamlris.datasets.transforms.corrupt import sample_seed
    seed = sample_seed(results, 'saturate', 0)  # saturate draws nothing; the seed is the same
    expected = image_corruptions.corrupt_image(np.ascontiguousarray(bgr[..., ::-1]),
                                               'saturate', 2, seed)[..., ::-1]
    assert np.array_equal(Corrupt('saturate', 2)(dict(results))['img'], expected)
    wrong = image_corruptions.corrupt_image(bgr, 'saturate', 2, seed)
    assert not np.array_equal(wrong, expected)


def test_the_adaptation_changes_nothing_outside_the_package(synref_samples):
    image_corruptions.load_imagecorruptions()
    assert not hasattr(np, 'float_')  # NumPy 2 stays NumPy 2
    import skimage.filters
    with pytest.raises(TypeError):  # scikit-image keeps its own signature
        skimage.filters.gaussian(np.zeros((4, 4, 3)), sigma=1, multichannel=True)
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    Corrupt('gaussian_noise', 2)(dict(synref_samples[0]))
    assert np.random.rand() == expected  # the global generator is restored


def test_clear_errors_for_bad_corruptions_and_images(synref_samples):
    with pytest.raises(InputValueError, match="Unknown corruption 'fogg'"):
        Corrupt('fogg', 1)
    for severity in (0, 6, 2.5):
        with pytest.raises(InputValueError, match='severity must be 1..5'):
            Corrupt('fog', severity)
    with pytest.raises(InputValueError, match='at least 32x32'):
        Corrupt('fog', 1)(dict(img=np.zeros((20, 40, 3), np.uint8)))
    with pytest.raises(InputValueError, match=r'\[H, W, 3\] uint8'):
        Corrupt('fog', 1)(dict(img=np.zeros((40, 40), np.uint8)))


def test_a_missing_package_is_named_with_the_install_command(monkeypatch):
    monkeypatch.setattr(image_corruptions, '_CORRUPT', [])
    monkeypatch.setitem(sys.modules, 'imagecorruptions', None)  # import fails
    with pytest.raises(ImportError, match=r"'imagecorruptions'.*pip install --no-deps "
                       r'imagecorruptions'):
        image_corruptions.load_imagecorruptions()


def _object_mask(results) -> np.ndarray:
    return LoadReferringMask()(dict(results))['gt_seg_map'].astype(bool)


@pytest.mark.parametrize('fraction', [0.1, 0.3, 0.5, 1.0])
def test_occlusion_is_confined_to_the_object_and_covers_the_fraction(fraction, synref_samples):
    for results in synref_samples:
        clean = results['img'].copy()
        mask = _object_mask(results)
        out = OccludeReferent(fraction)(dict(results))
        changed = (out['img'] != clean).any(-1)
        assert not (changed & ~mask).any()  # nothing outside the object
        count = math.ceil(fraction * mask.sum())
        # a texture pixel may equal the original by chance: at most a few
        assert 0.97 * count <= changed.sum() <= count
        assert np.array_equal(results['img'], clean)
        assert out['corruption'] == 'occlusion' and out['corruption_severity'] == fraction
        assert 'gt_seg_map' not in out  # the GT is loaded later by the pipeline, unchanged


def test_occlusion_grows_with_the_fraction_nested_on_one_side(synref_samples):
    results = synref_samples[0]
    clean = results['img']
    covered = [(OccludeReferent(f)(dict(results))['img'] != clean).any(-1)
               for f in (0.1, 0.3, 0.5)]
    assert covered[0].sum() < covered[1].sum() < covered[2].sum()
    # one edge direction per object: a smaller occlusion lies inside a larger one
    assert not (covered[0] & ~covered[1]).any() and not (covered[1] & ~covered[2]).any()
    # the part on one side of a straight edge: one region (two where a concave shape splits)
    import cv2
    count, _ = cv2.connectedComponents(covered[2].astype(np.uint8))
    assert count - 1 <= 2


def test_occlusion_leaves_expressions_without_target_alone(synref_samples):
    results = dict(synref_samples[0])
    results.pop('segmentation')
    results['segmentations'] = []  # gRefCOCO: refers to nothing
    out = OccludeReferent(0.5)(dict(results))
    assert np.array_equal(out['img'], results['img'])


@pytest.mark.parametrize('name', ['gaussian_noise', 'defocus_blur'])
def test_a_corruption_confined_to_the_object_or_the_context(name, synref_samples):
    for results in synref_samples:
        clean = results['img'].copy()
        mask = _object_mask(results)
        assert mask.any() and not mask.all()
        whole = Corrupt(name, 3)(dict(results))['img']
        confined = Corrupt(name, 3, cache=4, region='object')
        for _ in range(2):  # the second call reads the cache
            out = confined(dict(results))
            assert np.array_equal(out['img'][mask], whole[mask])
            assert np.array_equal(out['img'][~mask], clean[~mask])
            assert out['corruption_region'] == 'object' and 'gt_seg_map' not in out
        context = Corrupt(name, 3, region='context')(dict(results))['img']
        assert np.array_equal(context[~mask], whole[~mask])
        assert np.array_equal(context[mask], clean[mask])
        assert np.array_equal(results['img'], clean)


def test_occlusion_errors(synref_samples):
    for fraction in (0, -0.1, 1.5):
        with pytest.raises(InputValueError, match=r'fraction must be in \(0, 1\]'):
            OccludeReferent(fraction)
    resized = dict(synref_samples[0], img=np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputValueError, match='place it before any resize'):
        OccludeReferent(0.2)(resized)
    resized = dict(synref_samples[0], img=np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(InputValueError, match='place it before any resize'):
        Corrupt('fog', 1, region='object')(resized)
    with pytest.raises(InputValueError, match='region must be one of'):
        Corrupt('fog', 1, region='edges')
