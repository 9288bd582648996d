# Copyright (c) mmamlris contributors. All rights reserved.
"""``LoadRISImageFromFile``: unusual images are converted, broken ones get clear errors."""
import cv2
import numpy as np
import pytest
from PIL import Image

from mmamlris.datasets.transforms import LoadRISImageFromFile, diagnose_image_bytes
from mmamlris.utils import InputError


@pytest.fixture(scope='module')
def rgb():
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur((rng.random((40, 50, 3)) * 255).astype(np.uint8), (5, 5), 2)


def load(path, **kwargs):
    return LoadRISImageFromFile(**kwargs)(dict(img_path=str(path), img_id=7, ref_id=42))


def test_ordinary_jpeg(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / 'a.jpg', quality=95)
    out = load(tmp_path / 'a.jpg')
    assert out['img'].shape == (40, 50, 3) and out['img'].dtype == np.uint8
    assert out['img_shape'] == out['ori_shape'] == (40, 50)
    # BGR, as mmcv's LoadImageFromFile gives it (Pillow's decoder may differ by a level)
    pillow = np.asarray(Image.open(tmp_path / 'a.jpg').convert('RGB'))[..., ::-1]
    assert np.abs(out['img'].astype(int) - pillow).max() <= 2


@pytest.mark.parametrize('kind', ['gray', 'rgba', 'palette', '16bit', 'cmyk'])
def test_unusual_images_become_3_channel_uint8(tmp_path, rgb, kind):
    path = tmp_path / f'{kind}.png'
    if kind == 'gray':
        Image.fromarray(rgb[..., 0]).save(path)
        expected = np.repeat(rgb[..., :1], 3, axis=2)
    elif kind == 'rgba':
        alpha = np.full(rgb.shape[:2], 9, np.uint8)
        Image.fromarray(np.dstack([rgb, alpha])).save(path)
        expected = rgb[..., ::-1]  # alpha dropped
    elif kind == 'palette':
        Image.fromarray(rgb).convert('P').save(path)
        expected = np.asarray(Image.open(path).convert('RGB'))[..., ::-1]
    elif kind == '16bit':
        cv2.imwrite(str(path), rgb[..., ::-1].astype(np.uint16) * 257)  # BGR, full 16-bit range
        expected = rgb[..., ::-1]
    else:
        path = tmp_path / 'cmyk.jpg'
        Image.fromarray(rgb).convert('CMYK').save(path, quality=100)
        expected = None
    out = load(path)
    assert out['img'].shape == (40, 50, 3) and out['img'].dtype == np.uint8
    if expected is not None:
        assert np.abs(out['img'].astype(int) - expected.astype(int)).max() <= 1


def test_16bit_kept_unchanged_is_refused(tmp_path, rgb):
    cv2.imwrite(str(tmp_path / 'deep.png'), rgb.astype(np.uint16) * 257)
    with pytest.raises(ValueError, match=r"deep.png \(img_id 7, ref_id 42\) decodes to uint16"):
        load(tmp_path / 'deep.png', color_type='unchanged')


def _broken(tmp_path, rgb, kind):
    if kind == 'empty':
        data = b''
    elif kind == 'garbage':
        data = b'this is no image' * 10
    else:
        ext = 'jpg' if 'jpeg' in kind else 'png'
        Image.fromarray(rgb).save(tmp_path / f'ok.{ext}')
        data = (tmp_path / f'ok.{ext}').read_bytes()
        if kind.startswith('truncated'):
            data = data[:len(data) * 2 // 3]
        else:  # corrupt: the middle overwritten, the end marker kept
            mid = len(data) // 2
            data = data[:mid - 200] + bytes(400) + data[mid + 200:]
    path = tmp_path / f'{kind}.img'
    path.write_bytes(data)
    return path


@pytest.mark.parametrize('kind, reason', [
    ('empty', 'the file is empty (0 bytes)'),
    ('garbage', 'it is not an image OpenCV can read'),
    ('truncated_jpeg', 'the JPEG is truncated (no end-of-image marker'),
    ('truncated_png', 'the PNG is truncated (no IEND chunk'),
])
def test_broken_images_name_file_ref_and_reason(tmp_path, rgb, kind, reason):
    path = _broken(tmp_path, rgb, kind)
    with pytest.raises(ValueError) as err:
        load(path)
    msg = str(err.value)
    assert isinstance(err.value, InputError)
    assert f'Image {path} (img_id 7, ref_id 42) cannot be decoded: {reason}' in msg
    assert 'Re-download or re-extract it' in msg
    assert LoadRISImageFromFile(ignore_empty=True)(dict(img_path=str(path))) is None


def test_corrupt_png_data_are_reported(tmp_path, rgb):
    path = _broken(tmp_path, rgb, 'corrupt_png')
    with pytest.raises(ValueError, match='cannot be decoded: the PNG data are corrupt'):
        load(path)


def test_missing_image(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load(tmp_path / 'nope.jpg')
    assert isinstance(err.value, InputError)
    assert f'Image {tmp_path / "nope.jpg"} (img_id 7, ref_id 42) does not exist' in str(err.value)
    assert 'data_prefix.img_path' in str(err.value)


def test_diagnosis_of_bytes():
    assert diagnose_image_bytes(b'\xff\xd8\xff' + bytes(10) + b'\xff\xd9').startswith(
        'the JPEG data are corrupt')
    assert 'truncated' in diagnose_image_bytes(b'\x89PNG\r\n\x1a\n' + bytes(100))
