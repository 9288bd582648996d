# Copyright (c) mmamlris contributors. All rights reserved.
"""Visualizer of referring segmentation: captioned panels side by side."""
import os.path as osp
import textwrap
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import master_only
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from mmamlris.evaluation import mask_iou
from mmamlris.registry import VISUALIZERS

__all__ = ['Panel', 'RISLocalVisualizer']

ArrayLike = Union[np.ndarray, torch.Tensor]
Color = Tuple[int, int, int]

# Caption text: a monospace font, whose advance is about 0.6 of its size (DejaVu Sans Mono).
_FONT_FAMILY = 'monospace'
_CHAR_WIDTH = 0.6
_IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
# Label value of the referred object and of ignored pixels in the masks of mmamlris.
_OBJECT = 1


class Panel(NamedTuple):
    """One panel of a figure: an RGB image with a caption strip below it.

    Attributes:
        image (np.ndarray): RGB uint8 ``[H, W, 3]``.
        caption (str): Text written below the image (wrapped to the panel width).
        colorbar (bool): Draw the heat-map colour bar (0 -> 1) under the caption.
    """
    image: np.ndarray
    caption: str
    colorbar: bool = False


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _squeeze_mask(mask: ArrayLike) -> np.ndarray:
    """``[H, W]`` / ``[1, H, W]`` / ``[H, W, 1]`` -> ``[H, W]`` numpy array."""
    mask = _to_numpy(mask)
    if mask.ndim == 3 and 1 in (mask.shape[0], mask.shape[-1]):
        mask = mask.reshape(mask.shape[1:] if mask.shape[0] == 1 else mask.shape[:2])
    if mask.ndim != 2:
        raise ValueError(f'Expected a mask [H, W] or [1, H, W], got shape {mask.shape}.')
    return mask


def _resize_nearest(mask: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize a 2-D label mask to ``(H, W)`` with nearest neighbour."""
    if mask.shape == tuple(size):
        return mask
    resized = cv2.resize(mask.astype(np.uint8), (size[1], size[0]),
                         interpolation=cv2.INTER_NEAREST)
    return resized.astype(mask.dtype)


def _check_image(image: ArrayLike, what: str = 'image') -> np.ndarray:
    image = _to_numpy(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'RISLocalVisualizer: {what} must be an RGB uint8 array [H, W, 3], '
                         f'got dtype {image.dtype} and shape {image.shape}.')
    return image


@VISUALIZERS.register_module()
class RISLocalVisualizer(SegLocalVisualizer):
    """Visualizer of referring image segmentation and of what AML masks.

    Every figure is a row of :class:`Panel` s of one size, each with a caption strip below it
    (the expression, the IoU, what the panel shows), concatenated side by side: the figure of
    ``n`` panels of an ``H x W`` image is ``(H + caption height) x (n * W)``.

    * :meth:`add_datasample` (called by mmseg's ``SegVisualizationHook``, e.g. by
      ``tools/test.py --show-dir``) draws one expression: the image with the expression, the
      prediction overlay with its IoU against the GT (at the size of the given image, the
      original one for the hook), and the GT overlay.
    * :meth:`add_aml_panels` (called by :class:`AMLVisualizationHook` and
      ``tools/analysis_tools/browse_aml_masks.py``) draws one AML training sample: input with
      expression, PatchMax alignment score heat map, weak set, block mask, the masked image
      fed to stage 2, stage-2 prediction and GT.
    * :meth:`draw_ris_result` gives one captioned overlay (``demo/image_demo.py``).

    Figures go to every vis backend through ``add_image`` (files for ``LocalVisBackend``,
    images for ``TensorboardVisBackend``), to a window with ``show=True``, or to ``out_file``.

    Args:
        name (str): Instance name. Defaults to ``'visualizer'``.
        image (np.ndarray, optional): An RGB image to start from.
        vis_backends (list[dict], optional): Vis backend configs.
        save_dir (str, optional): Where the backends save.
        classes (Sequence[str], optional): Class names; the default is
            ``('background', 'object')`` (``RefCOCODataset``'s).
        palette (Sequence, optional): Colours of the classes.
        dataset_name (str, optional): Unused by the RIS figures; kept for mmseg's signature.
        alpha (float): Opacity of the mask overlays. Defaults to 0.5.
        pred_color (tuple[int]): RGB colour of predictions. Defaults to red.
        gt_color (tuple[int]): RGB colour of the GT. Defaults to green.
        weak_color (tuple[int]): RGB colour of the AML weak set. Defaults to yellow.
        block_color (tuple[int]): RGB colour of the AML block mask. Defaults to magenta.
        heatmap_alpha (float): Opacity of the alignment heat map over the image.
            Defaults to 0.6.
        **kwargs: Passed to :class:`mmengine.visualization.Visualizer`.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence] = None,
                 dataset_name: Optional[str] = None,
                 alpha: float = 0.5,
                 pred_color: Color = (255, 48, 48),
                 gt_color: Color = (48, 220, 48),
                 weak_color: Color = (255, 210, 0),
                 block_color: Color = (200, 0, 200),
                 heatmap_alpha: float = 0.6,
                 **kwargs) -> None:
        for key, value in (('alpha', alpha), ('heatmap_alpha', heatmap_alpha)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'RISLocalVisualizer: {key} must be in [0, 1], got {value}.')
        classes = list(classes) if classes else ['background', 'object']
        palette = list(palette) if palette else [[0, 0, 0], list(pred_color)]
        super().__init__(name, image, vis_backends, save_dir, classes=classes,
                         palette=palette, dataset_name=dataset_name, alpha=alpha, **kwargs)
        # SegLocalVisualizer.__init__ passes (palette, classes) to set_dataset_meta(classes,
        # palette), i.e. swapped: set them again in the right order.
        self.set_dataset_meta(classes, palette, dataset_name)
        self.pred_color = tuple(int(c) for c in pred_color)
        self.gt_color = tuple(int(c) for c in gt_color)
        self.weak_color = tuple(int(c) for c in weak_color)
        self.block_color = tuple(int(c) for c in block_color)
        self.heatmap_alpha = float(heatmap_alpha)

    # ------------------------------------------------------------------ drawing helpers
    def overlay(self, image: np.ndarray, mask: ArrayLike, color: Color,
                alpha: Optional[float] = None) -> np.ndarray:
        """Blend ``color`` into the pixels of ``image`` where ``mask`` is the object
        (mmengine's ``draw_binary_masks``).

        Pixels outside the mask are returned unchanged.

        Args:
            image (np.ndarray): RGB uint8 ``[H, W, 3]``.
            mask (np.ndarray | Tensor): ``[H, W]`` or ``[1, H, W]``, bool or labels (object
                where ``== 1``; ``255`` counts as background); resized (nearest) if needed.
            color (tuple[int]): RGB colour.
            alpha (float, optional): Opacity; defaults to ``self.alpha``.

        Returns:
            np.ndarray: RGB uint8 ``[H, W, 3]``.
        """
        image = _check_image(image)
        mask = _squeeze_mask(mask)
        mask = (mask == _OBJECT) if mask.dtype != np.bool_ else mask
        mask = _resize_nearest(mask.astype(np.uint8), image.shape[:2]).astype(bool)
        self.set_image(image)
        self.draw_binary_masks(mask, colors=[tuple(int(c) for c in color)],
                               alphas=float(self.alpha if alpha is None else alpha))
        return self.get_image()

    def heatmap(self, image: np.ndarray, score: ArrayLike) -> np.ndarray:
        """Upsample a score map (bilinear) to the image and blend its colours into it
        (mmengine's ``draw_featmap``: JET, from the map's minimum in blue to its maximum in red).

        Args:
            image (np.ndarray): RGB uint8 ``[H, W, 3]``.
            score (np.ndarray | Tensor): ``[h, w]`` or ``[1, h, w]`` scores.

        Returns:
            np.ndarray: RGB uint8 ``[H, W, 3]``.
        """
        image = _check_image(image)
        score = torch.from_numpy(_squeeze_mask(score).astype(np.float32))
        score = F.interpolate(score[None, None], size=image.shape[:2], mode='bilinear',
                              align_corners=False)[0]
        return self.draw_featmap(score, image, alpha=self.heatmap_alpha)

    def _font(self, width: int) -> Tuple[int, int, int]:
        """Font size (points), characters per line and line height (pixels) of a caption
        ``width`` pixels wide."""
        font_px = float(np.clip(width / 40.0, 8.0, 16.0))
        size = max(1, int(round(font_px * 72.0 / self.dpi)))
        font_px = size * self.dpi / 72.0
        chars = max(1, int((width - 6) // (_CHAR_WIDTH * font_px)))
        return size, chars, int(np.ceil(font_px * 1.3))

    def _caption_strip(self, width: int, lines: Sequence[str], height: int,
                       colorbar: bool) -> np.ndarray:
        """A white strip ``[height, width, 3]`` with ``lines`` of text (mmengine's
        ``draw_texts``) and, for a heat map, its colour bar (``draw_featmap`` of a ramp)."""
        size, _, line_h = self._font(width)
        strip = np.full((height, width, 3), 255, dtype=np.uint8)
        if lines:
            self.set_image(strip)
            self.draw_texts(list(lines),
                            np.array([[3, 3 + k * line_h] for k in range(len(lines))]),
                            font_sizes=size, colors='black', font_families=_FONT_FAMILY)
            strip = self.get_image()
        if colorbar:
            bar_h, top = max(4, line_h // 2), 3 + len(lines) * line_h
            ramp = torch.linspace(0.0, 1.0, max(width - 6, 2))[None, None].repeat(1, bar_h, 1)
            bar = self.draw_featmap(ramp)
            strip[top:top + bar_h, 3:3 + bar.shape[1]] = bar[:max(0, height - top)]
        return strip

    def draw_panels(self, panels: Sequence[Panel]) -> np.ndarray:
        """Put captioned panels of one size side by side.

        Args:
            panels (Sequence[Panel]): Panels whose images are all ``[H, W, 3]``.

        Returns:
            np.ndarray: RGB uint8 ``[H + C, n * W, 3]``, ``C`` the caption height (the same
            for all panels: that of the longest caption).
        """
        if not panels:
            raise ValueError('RISLocalVisualizer.draw_panels needs at least one panel.')
        images = [_check_image(p.image, f'panel {i} ({p.caption!r:.40})')
                  for i, p in enumerate(panels)]
        shape = images[0].shape
        for image, panel in zip(images, panels):
            if image.shape != shape:
                raise ValueError(f'RISLocalVisualizer: panels must have one size; '
                                 f'{panel.caption!r:.40} is {image.shape[:2]}, the first '
                                 f'is {shape[:2]}.')
        width = shape[1]
        _, chars, line_h = self._font(width)
        wrapped = [textwrap.wrap(p.caption, chars) for p in panels]
        rows = [len(lines) + (1 if p.colorbar else 0) for lines, p in zip(wrapped, panels)]
        height = max(rows) * line_h + 6
        columns = [
            np.concatenate(
                [image, self._caption_strip(width, lines, height, p.colorbar)], axis=0)
            for image, lines, p in zip(images, wrapped, panels)
        ]
        return np.concatenate(columns, axis=1)

    def draw_ris_result(self, image: np.ndarray, text: str, mask: ArrayLike,
                        alpha: Optional[float] = None) -> np.ndarray:
        """One panel: the predicted mask over the image, the expression below it.

        Args:
            image (np.ndarray): RGB uint8 ``[H, W, 3]``.
            text (str): The expression.
            mask (np.ndarray | Tensor): ``[H, W]`` bool or labels (object ``== 1``).
            alpha (float, optional): Overlay opacity; defaults to ``self.alpha``.

        Returns:
            np.ndarray: RGB uint8 ``[H + C, W, 3]``.
        """
        drawn = self.overlay(image, mask, self.pred_color, alpha)
        return self.draw_panels([Panel(drawn, f'"{text}"')])

    def _output(self, name: str, drawn: np.ndarray, show: bool, wait_time: float,
                out_file: Optional[str], step: int) -> None:
        """Send a figure to the window, ``out_file`` or the vis backends."""
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)

    # ------------------------------------------------------------------ public API
    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> Optional[np.ndarray]:
        """Draw one expression: image + expression, prediction (+ IoU), GT; side by side.

        The masks are drawn at the size of ``image`` (nearest resizing if they differ);
        the IoU is computed between ``pred_sem_seg`` and ``gt_sem_seg`` at the GT's size
        (the original image size for mmamlris' test pipelines).

        Without ``out_file`` the figure goes to the vis backends under ``name`` extended
        with ``_sent<sent_id>`` (or ``_ref<ref_id>``) from the metainfo, so that the
        expressions of one image (which ``SegVisualizationHook`` names alike) each get
        their own file.

        Args:
            name (str): Figure name (e.g. ``'test_<image file name>'``).
            image (np.ndarray): RGB uint8 ``[H, W, 3]``.
            data_sample (SegDataSample, optional): With ``pred_sem_seg`` and/or
                ``gt_sem_seg`` (``[1, H, W]``) and the metainfo ``text``.
            draw_gt (bool): Draw the GT panel. Defaults to True.
            draw_pred (bool): Draw the prediction panel. Defaults to True.
            show (bool): Show the figure in a window. Defaults to False.
            wait_time (float): Seconds to show it. Defaults to 0.
            out_file (str, optional): Write the figure there instead of the backends.
            step (int): Global step for the backends. Defaults to 0.
            with_labels (bool): Unused (no class names in RIS); kept for mmseg's signature.

        Returns:
            np.ndarray: The figure, RGB uint8 ``[H + C, n * W, 3]`` with ``n`` panels.
        """
        image = _check_image(image)
        sample = data_sample if data_sample is not None else SegDataSample()
        meta = sample.metainfo
        text = meta.get('text', '')
        panels = [Panel(image, f'"{text}"' if text else '(no expression)')]
        gt = _squeeze_mask(sample.gt_sem_seg.data) if 'gt_sem_seg' in sample else None
        if draw_pred and 'pred_sem_seg' in sample:
            pred = _squeeze_mask(sample.pred_sem_seg.data)
            caption = 'prediction'
            if gt is not None:
                iou = mask_iou(_resize_nearest(pred, gt.shape), gt)
                caption = f'prediction, IoU {iou:.3f}'
            panels.append(Panel(self.overlay(image, pred, self.pred_color), caption))
        if draw_gt and gt is not None:
            panels.append(Panel(self.overlay(image, gt, self.gt_color), 'ground truth'))
        drawn = self.draw_panels(panels)
        self._output(self._expression_name(name, meta), drawn, show, wait_time, out_file,
                     step)
        return drawn

    @staticmethod
    def _expression_name(name: str, meta: dict) -> str:
        """``name`` without an image suffix, plus the expression's id."""
        stem, suffix = osp.splitext(name)
        if suffix.lower() in _IMAGE_SUFFIXES:
            name = stem
        for key, tag in (('sent_id', 'sent'), ('ref_id', 'ref')):
            if meta.get(key) is not None:
                return f'{name}_{tag}{meta[key]}'
        return name

    @master_only
    def add_aml_panels(self,
                       name: str,
                       image: np.ndarray,
                       text: str,
                       score_map: ArrayLike,
                       weak_mask: ArrayLike,
                       block_mask: ArrayLike,
                       masked_image: np.ndarray,
                       pred_mask: Optional[ArrayLike] = None,
                       gt_mask: Optional[ArrayLike] = None,
                       alignment: Optional[dict] = None,
                       step: int = 0,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None) -> Optional[np.ndarray]:
        """Draw what AML did to one training sample, as one row of panels.

        Panels: input + expression; alignment score heat map (upsampled bilinearly, JET
        colours from the map's minimum in blue to its maximum in red, with a colour bar);
        weak set; block mask; the masked image fed to stage 2; the stage-2 prediction (when
        ``pred_mask`` is given, with its IoU when ``gt_mask`` is too); the GT (when
        ``gt_mask`` is given).

        Args:
            name (str): Figure name for the backends.
            image (np.ndarray): The clean input, RGB uint8 ``[H, W, 3]``.
            text (str): The expression.
            score_map (np.ndarray | Tensor): ``[h, w]`` or ``[1, h, w]`` alignment scores
                (after ``score_norm``), coloured from their minimum (blue) to their maximum
                (red); the caption gives that range.
            weak_mask (np.ndarray | Tensor): ``[H, W]`` bool, the weak set.
            block_mask (np.ndarray | Tensor): ``[H, W]`` bool, the masked blocks.
            masked_image (np.ndarray): The stage-2 input, RGB uint8 ``[H, W, 3]``.
            pred_mask (np.ndarray | Tensor, optional): ``[H, W]`` stage-2 prediction
                (object ``== 1`` or True).
            gt_mask (np.ndarray | Tensor, optional): ``[H, W]`` GT (1 object, 255 ignore).
            alignment (dict, optional): This sample's alignment statistics, written into the
                captions: ``target_auc`` (the ROC-AUC of its block scores for the referred
                object), ``object_masked`` and ``context_masked`` (fractions of the object's
                and of the other pixels masked); a value may be ``None`` (undefined).
            step (int): Global step for the backends. Defaults to 0.
            show (bool): Show the figure in a window. Defaults to False.
            wait_time (float): Seconds to show it. Defaults to 0.
            out_file (str, optional): Write the figure there instead of the backends.

        Returns:
            np.ndarray: The figure, RGB uint8 ``[H + C, n * W, 3]``, ``n`` = 5, 6 or 7.
        """
        image = _check_image(image)
        masked_image = _check_image(masked_image, 'masked_image')
        size = image.shape[:2]
        weak = _resize_nearest(_squeeze_mask(weak_mask).astype(bool), size)
        block = _resize_nearest(_squeeze_mask(block_mask).astype(bool), size)
        score = _squeeze_mask(score_map).astype(np.float32)
        low, high = float(score.min()), float(score.max())
        range_note = f' [{low:.2g}, {high:.2g}]'  # the colours span the map's own range
        alignment = alignment or {}
        score_caption = f'alignment score{range_note}, mean {score.mean():.2f}'
        if alignment.get('target_auc') is not None:
            score_caption += f', target AUC {alignment["target_auc"]:.2f}'
        block_caption = f'block mask {block.mean():.0%}'
        if alignment.get('object_masked') is not None:
            block_caption += f': object {alignment["object_masked"]:.0%}'
            if alignment.get('context_masked') is not None:
                block_caption += f', context {alignment["context_masked"]:.0%}'
        panels = [
            Panel(image, f'"{text}"' if text else '(no expression)'),
            Panel(self.heatmap(image, score), score_caption, colorbar=True),
            Panel(self.overlay(image, weak, self.weak_color),
                  f'weak set {weak.mean():.0%}'),
            Panel(self.overlay(image, block, self.block_color), block_caption),
            Panel(masked_image, 'stage-2 input'),
        ]
        gt = _resize_nearest(_squeeze_mask(gt_mask), size) if gt_mask is not None else None
        if pred_mask is not None:
            pred = _squeeze_mask(pred_mask)
            pred = _resize_nearest(pred.astype(np.uint8), size)
            caption = 'stage-2 prediction'
            if gt is not None:
                caption += f', IoU {mask_iou(pred, gt):.3f}'
            panels.append(Panel(self.overlay(image, pred, self.pred_color), caption))
        if gt is not None:
            panels.append(Panel(self.overlay(image, gt, self.gt_color), 'ground truth'))
        drawn = self.draw_panels(panels)
        self._output(name, drawn, show, wait_time, out_file, step)
        return drawn
