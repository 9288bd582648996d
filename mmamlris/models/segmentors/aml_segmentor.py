# Copyright (c) mmamlris contributors. All rights reserved.
import copy
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig, OptSampleList,
                         SampleList, add_prefix)
from torch import Tensor

from mmamlris.registry import MODELS
from ..aml import AMLOutput
from ..data_preprocessor import stack_text_inputs
from ..utils import BackboneEarlyExit, logits_to_mask

TextInputs = Tuple[Tensor, Tensor]  # ([B, L] token ids, [B, L] attention mask)
TextFeatures = Tuple[Tensor, Tensor]  # ([B, N, C_t] token features, [B, N] bool mask)

_STAGE2_TEXT = ('masked', 'clean')


class MaskedBatch(NamedTuple):
    """What :meth:`AMLSegmentor.mask_batch` returns: stage 1 and the masking of one batch.

    Attributes:
        aml (AMLOutput): The masked images, masks, score map, statistics and scorer losses.
        losses (dict[str, Tensor]): ``stage1.*`` loss terms of the unmasked forward (weighted
            by ``stage1_loss_weight``; empty when it is 0).
        text (tuple[Tensor, Tensor] | None): Stage-2 text features when stage 1 could encode
            them once for both stages (decoders without visual prompts), else ``None``.
    """
    aml: AMLOutput
    losses: Dict[str, Tensor]
    text: Optional[TextFeatures]


@MODELS.register_module()
class AMLSegmentor(BaseSegmentor):
    """Referring segmentor trained with Alignment-aware Masked Learning (AML).

    An ``EncoderDecoder``-style segmentor with a text path: a visual ``backbone`` (any mmseg
    backbone), an optional ``neck``, a ``text_encoder`` and a RIS ``decode_head``
    (:class:`BaseRISDecodeHead`). ``aml`` (an :class:`AlignmentAwareMasking` config) turns on
    the two-stage AML training step; ``aml=None`` is exactly the plain baseline model, and
    inference never masks, so ``predict()`` gives identical outputs with AML on or off.

    1. ``loss`` runs both AML stages inside one call, because mmengine's DDP wrapper calls
    ``data_preprocessor`` and ``forward(mode='loss')`` itself and would bypass a
    ``train_step`` override. The tokens are stacked once per call:

    .. code:: text

     loss(): [aml is None] _encode() -> decode_head.loss()
             [aml]         mask_batch() -> [stage2_text='clean'] extract_feat(clean)
                           -> extract_feat(masked) -> encode_text() (unless reused)
                           -> decode_head.loss()
     mask_batch(): _stage1_features() [-> decode_head() without grad, for a scorer that
                   needs_seg_logits] -> aml(inputs, vis[aml_feat_index], text, samples,
                                            vis_levels=vis)
     _stage1_features(): no grad: _stage1_levels() -> backbone up to those levels only
                               (BackboneEarlyExit; img downscaled by stage1_scale)
                               -> decode_head.text_prompts() -> text_encoder()
                (with stage1_loss_weight > 0: with grad, plus the decode head loss)
     _encode(): extract_feat() -> encode_text() = decode_head.text_prompts() -> text_encoder()

    :meth:`mask_batch` is the public entry point of stage 1 and the masking: the browse and
    benchmark tools call it on a preprocessed batch. When the decode head adds no visual
    prompts to the text, the text features do not depend on the image: stage 1 encodes the
    text once, with gradient, and stage 2 reuses it, so AML costs one extra visual-encoder
    forward without gradient. Stage 1 runs in the model's current mode: a BatchNorm backbone
    in training mode updates its running statistics on the clean images too (as the released
    code's first pass does).

    Stage 1 computes only the feature levels it uses (:meth:`_stage1_levels`: the scored
    level, a scorer's ``aux_feat_indices``, the levels of the decode head's text prompts):
    the backbone stops after the last of them (:class:`BackboneEarlyExit`, verified once
    against the full pass, any backbone with a stage container; others run in full). A neck,
    a scorer that needs the decoder or ``stage1_loss_weight > 0`` need every level.

    2. ``predict`` gives ``pred_sem_seg`` at the original image size (mmseg convention) and
    ``pred_sem_seg_resized`` at the network input size (the CARIS/LAVT evaluation protocol):

    .. code:: text

     predict(): encode_decode() -> postprocess_result()
     encode_decode(): _encode() -> decode_head.predict()

    3. ``_forward`` (``mode='tensor'``) returns the decode head's raw logits.

    Args:
        backbone (ConfigType): Visual encoder config; must return a tuple of feature maps.
        text_encoder (ConfigType): Text encoder config (e.g. ``HFTextEncoder``).
        decode_head (ConfigType): RIS decoder config (a :class:`BaseRISDecodeHead`).
        neck (ConfigType, optional): Neck applied to the backbone outputs.
        aml (ConfigType, optional): ``AlignmentAwareMasking`` config; ``None`` disables AML.
        aml_feat_index (int): Which visual feature level feeds the alignment score (index into
            the backbone/neck outputs). Defaults to -1, the coarsest (stride-32) level, as in
            the released code.
        stage1_loss_weight (float): Weight of the segmentation loss on the unmasked stage-1
            forward. 0 (the paper) runs stage 1 without gradient and without the decoder;
            the released code uses 0.5 (and 0.5 on stage 2), about doubling the step's cost.
        stage1_scale (float): Input scale of stage 1 (e.g. 0.5 runs the alignment pass at half
            resolution). Defaults to 1.0.
        stage1_early_exit (bool): Stop the backbone in stage 1 after the last level it
            uses (see above). Defaults to True; False computes every level.
        stage1_text_prompts (bool): Whether stage 1 encodes the text with the decode head's
            visual prompts (CARIS's conditional prompts), as stage 2 does. Defaults to True.
            False gives the scorer the expression encoded without them, so stage 1 needs
            no level the prompts read (CARIS: the coarsest), and the backbone can stop below
            it.
        stage2_loss_weight (float): Weight of the stage-2 (masked) loss. Defaults to 1.0.
        stage2_text (str): Where the stage-2 text features come from: ``'masked'`` (default:
            the masked pass, or stage 1 when they do not depend on the image) or ``'clean'``
            (the released code: one more visual-encoder pass on the clean images feeds the
            text path, so the text never sees the mask; three backbone passes per step).
        train_cfg (ConfigType, optional): Passed to the decode head's ``loss``.
        test_cfg (ConfigType, optional): Passed to the decode head's ``predict``.
        data_preprocessor (ConfigType, optional): Usually a ``RISDataPreProcessor``.
        init_cfg (ConfigType, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 text_encoder: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 aml: OptConfigType = None,
                 aml_feat_index: int = -1,
                 stage1_loss_weight: float = 0.0,
                 stage1_scale: float = 1.0,
                 stage1_early_exit: bool = True,
                 stage1_text_prompts: bool = True,
                 stage2_loss_weight: float = 1.0,
                 stage2_text: str = 'masked',
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        self.text_encoder = MODELS.build(text_encoder)
        self._init_decode_head(decode_head)
        self._init_aml(aml, aml_feat_index, stage1_loss_weight, stage1_scale,
                       stage2_loss_weight, stage2_text)
        self._init_stage1_backbone(stage1_early_exit, stage1_text_prompts)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg if test_cfg is not None else dict()

    def _init_decode_head(self, decode_head: ConfigType) -> None:
        """Initialize ``decode_head``."""
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels

    def _init_aml(self, aml: OptConfigType, feat_index: int, stage1_loss_weight: float,
                  stage1_scale: float, stage2_loss_weight: float, stage2_text: str) -> None:
        """Initialize the alignment-aware masking module and its training options."""
        if stage1_loss_weight < 0 or stage2_loss_weight < 0:
            raise ValueError('stage1_loss_weight and stage2_loss_weight must be >= 0, got '
                             f'{stage1_loss_weight} and {stage2_loss_weight}.')
        if not 0 < stage1_scale <= 1:
            raise ValueError(f'stage1_scale must be in (0, 1], got {stage1_scale}.')
        if stage2_text not in _STAGE2_TEXT:
            raise ValueError(f'stage2_text must be one of {list(_STAGE2_TEXT)}, got '
                             f'{stage2_text!r}.')
        self.aml = MODELS.build(self._with_model_widths(aml, feat_index)) \
            if aml is not None else None
        self.aml_feat_index = feat_index
        self.stage1_loss_weight = float(stage1_loss_weight)
        self.stage1_scale = float(stage1_scale)
        self.stage2_loss_weight = float(stage2_loss_weight)
        self.stage2_text = stage2_text

    def _init_stage1_backbone(self, early_exit: bool, text_prompts: bool) -> None:
        """Initialize the early-exit runner of the backbone for stage 1 (AML only)."""
        self.stage1_early_exit = bool(early_exit)
        self.stage1_text_prompts = bool(text_prompts)
        # A plain attribute, not a submodule: it holds a reference to ``self.backbone``.
        self._stage1_backbone = BackboneEarlyExit(self.backbone) \
            if self.with_aml and self.stage1_early_exit else None

    def _level_width(self, index: int, key: str) -> int:
        """Channels of backbone level ``index`` as the decode head declares them.

        Raises:
            ValueError: If the head does not read that level; the message names ``key``.
        """
        in_channels = getattr(self.decode_head, 'in_channels', None)
        in_index = getattr(self.decode_head, 'in_index', None)
        if isinstance(in_channels, int):
            in_channels, in_index = [in_channels], [in_index]
        if isinstance(in_channels, (list, tuple)) and isinstance(in_index, (list, tuple)):
            levels = max(in_index) + 1
            if -levels <= index < levels and index % levels in in_index:
                return int(in_channels[list(in_index).index(index % levels)])
        raise ValueError(f'AMLSegmentor: cannot tell the channels of feature level {index} '
                         f'from the decode head (in_channels={in_channels}, in_index='
                         f'{in_index}); set {key}.')

    def _with_model_widths(self, aml: ConfigType, feat_index: int) -> ConfigType:
        """The AML config with the scorer's widths that it leaves out taken from the model.

        ``vis_channels`` is the width of level ``aml_feat_index`` (from the decode head's
        ``in_channels`` / ``in_index``), ``text_channels`` the text encoder's
        ``out_channels``, ``aux_channels`` (a scorer reading finer levels) those of its
        ``aux_feat_indices``. A width the config gives is checked against the model.
        """
        if not isinstance(aml, dict) or not isinstance(aml.get('scorer'), dict):
            return aml
        aml = copy.deepcopy(aml)
        scorer = aml['scorer']
        key = 'model.aml.scorer.vis_channels'
        if 'vis_channels' not in scorer:
            scorer['vis_channels'] = self._level_width(feat_index, key)
        else:
            try:
                width = self._level_width(feat_index, key)
            except ValueError:
                width = None  # a head that does not declare it: trust the config
            if width is not None and width != scorer['vis_channels']:
                raise ValueError(
                    f'{key}={scorer["vis_channels"]}, but feature level aml_feat_index='
                    f'{feat_index} has {width} channels (decode_head.in_channels); remove the '
                    f'key to take the width from the model.')
        if 'text_channels' not in scorer:
            width = getattr(self.text_encoder, 'out_channels', None)
            if not isinstance(width, int):
                raise ValueError('AMLSegmentor: the text encoder has no out_channels; set '
                                 'model.aml.scorer.text_channels.')
            scorer['text_channels'] = width
        if scorer.get('aux_feat_indices') and 'aux_channels' not in scorer:
            scorer['aux_channels'] = [
                self._level_width(i, 'model.aml.scorer.aux_channels')
                for i in scorer['aux_feat_indices']]
        return aml

    @property
    def with_aml(self) -> bool:
        """bool: Whether the model trains with alignment-aware masking."""
        return self.aml is not None

    # ------------------------------------------------------------------ encoders
    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Extract visual features (backbone, then the optional neck).

        Args:
            inputs (Tensor): Images ``[B, 3, H, W]``.

        Returns:
            list[Tensor]: Feature maps ``[B, C_i, H_i, W_i]``.
        """
        x = self.backbone(inputs)
        if self.with_neck:
            x = self.neck(x)
        return list(x)

    def encode_text(self, feats: Sequence[Tensor], input_ids: Tensor,
                    attention_mask: Tensor) -> TextFeatures:
        """Encode the expressions, with the decode head's visual prompts if it has any.

        Returns:
            tuple[Tensor, Tensor]: Token features ``[B, N, C_t]`` and mask ``[B, N]`` (bool).
        """
        prompts = self.decode_head.text_prompts(feats)
        return self.text_encoder(input_ids, attention_mask, prompts)

    def _encode(self, inputs: Tensor,
                text_inputs: TextInputs) -> Tuple[List[Tensor], TextFeatures]:
        """Visual features and text features of one batch."""
        feats = self.extract_feat(inputs)
        return feats, self.encode_text(feats, *text_inputs)

    # ------------------------------------------------------------------ training
    def _decode_head_forward_train(self, feats: List[Tensor], text: TextFeatures,
                                   data_samples: SampleList) -> Dict[str, Tensor]:
        """Run the decode head's loss; keys prefixed with ``decode.``."""
        losses = self.decode_head.loss(feats, *text, data_samples, self.train_cfg)
        return add_prefix(losses, 'decode')

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Compute the losses of one batch, with both AML stages when AML is on.

        Args:
            inputs (Tensor): Normalised, padded images ``[B, 3, H, W]``.
            data_samples (list[SegDataSample]): With ``gt_sem_seg`` and the token fields.

        Returns:
            dict[str, Tensor]: ``decode.loss_*`` (stage 2), ``stage1.loss_*`` when
            ``stage1_loss_weight > 0``, ``aml.loss_*`` of a trainable scorer, and ``aml_*``
            statistics (logged, not optimised).
        """
        text_inputs = stack_text_inputs(data_samples)
        if not self.with_aml:
            feats, text = self._encode(inputs, text_inputs)
            return self._decode_head_forward_train(feats, text, data_samples)

        masked = self.mask_batch(inputs, data_samples, text_inputs)
        losses = dict(masked.losses)
        losses.update(masked.aml.stats)
        losses.update(add_prefix(masked.aml.losses, 'aml'))
        text2 = masked.text
        if self.stage2_text == 'clean':
            # The released code: the text path sees a clean visual-encoder pass.
            text2 = self.encode_text(self.extract_feat(inputs), *text_inputs)
        feats = self.extract_feat(masked.aml.masked_inputs)
        if text2 is None:
            text2 = self.encode_text(feats, *text_inputs)
        stage2 = self._decode_head_forward_train(feats, text2, data_samples)
        losses.update(self._weighted(stage2, self.stage2_loss_weight))
        return losses

    def mask_batch(self, inputs: Tensor, data_samples: SampleList,
                   text_inputs: Optional[TextInputs] = None) -> MaskedBatch:
        """Stage 1 and the alignment-aware masking of a preprocessed batch.

        The one entry point of stage 1: :meth:`loss` calls it, and so do the tools that look
        at or time the masking (``browse_aml_masks.py``, ``benchmark_aml.py``). Call it under
        ``torch.no_grad()`` when only the masks are wanted.

        Args:
            inputs (Tensor): Normalised, padded images ``[B, 3, H, W]``.
            data_samples (list[SegDataSample]): With the token fields (and the GT, for
                scorers that read it).
            text_inputs (tuple[Tensor, Tensor], optional): ``(input_ids, attention_mask)``
                ``[B, L]`` when the caller already stacked them.

        Returns:
            MaskedBatch: The masking result, the stage-1 losses and reusable text features.
        """
        if not self.with_aml:
            raise RuntimeError('AMLSegmentor.mask_batch needs model.aml; this model trains '
                               'without alignment-aware masking.')
        if text_inputs is None:
            text_inputs = stack_text_inputs(data_samples)
        for sample in data_samples:  # the unpadded sizes (host metadata, no sync)
            self.aml.check_image_size(*sample.img_shape[:2])
        losses: Dict[str, Tensor] = dict()
        vis1, text1, text2 = self._stage1_features(inputs, text_inputs, data_samples, losses)
        seg_logits = None
        if self.aml.needs_seg_logits:  # e.g. DecoderScorer: the decoder's own view, no grad
            with torch.no_grad():
                seg_logits = self.decode_head(vis1, *text1)
        aml_out = self.aml(inputs, vis1[self.aml_feat_index], *text1, data_samples,
                           seg_logits=seg_logits, vis_levels=vis1)
        return MaskedBatch(aml_out, losses, text2)

    def _stage1_features(self, inputs: Tensor, text_inputs: TextInputs,
                         data_samples: SampleList, losses: Dict[str, Tensor]
                         ) -> Tuple[List[Tensor], TextFeatures, Optional[TextFeatures]]:
        """Stage 1, the alignment pass on the unmasked images.

        It runs under ``torch.no_grad()``, not ``torch.inference_mode()``: inference mode
        measured no faster (lite SynRef config on the CPU, within noise), and a tensor that a
        module computes in stage 1 and keeps for later (a cache) would be an inference tensor,
        which stage 2 cannot save for its backward pass.

        Returns:
            tuple: The visual features (``None`` at the levels stage 1 did not compute)
            and text features of stage 1 (detached), and the
            stage-2 text features when they could be computed here once for both stages
            (``None`` otherwise).
        """
        input_ids, attention_mask = text_inputs
        if self.stage1_loss_weight > 0:
            # The released recipe: a full forward with gradient and its own loss.
            feats, text = self._encode(inputs, text_inputs)
            stage1 = self._decode_head_forward_train(feats, text, data_samples)
            losses.update(add_prefix(self._weighted(stage1, self.stage1_loss_weight),
                                     'stage1'))
            return [f.detach() for f in feats], (text[0].detach(), text[1]), None

        x = inputs
        if self.stage1_scale != 1.0:
            x = F.interpolate(x, scale_factor=self.stage1_scale, mode='bilinear',
                              align_corners=False)
        with torch.no_grad():
            levels = self._stage1_levels()
            feats = self.extract_feat(x) if levels is None \
                else self._stage1_backbone(x, levels)
            prompts = self.decode_head.text_prompts(feats) if self.stage1_text_prompts \
                else None
            text1 = None
            if prompts is not None:
                text1 = self.text_encoder(input_ids, attention_mask, prompts)
            elif not self.stage1_text_prompts and self.decode_head.text_prompt_levels():
                # the head prompts its text in stage 2: stage 1's plain text is its own pass
                text1 = self.text_encoder(input_ids, attention_mask, None)
        # Under AMP, the half-precision copies of the weights that autocast made and cached in
        # this no-grad pass have no gradient history. PyTorch releases without pytorch#165068
        # (e.g. 2.1, the newest one mmcv 2.1 has wheels for) hand them to stage 2, which then
        # back-propagates to none of those weights (pytorch#112583). Drop them: stage 2 casts
        # the weights afresh.
        torch.clear_autocast_cache()
        if text1 is not None:
            return feats, text1, None
        # Image-independent text: encode once with gradient, reuse it detached for stage 1.
        text2 = self.text_encoder(input_ids, attention_mask, None)
        return feats, (text2[0].detach(), text2[1]), text2

    def _stage1_levels(self) -> Optional[List[int]]:
        """The feature levels the no-grad stage 1 uses, or None for all of them."""
        if self._stage1_backbone is None or self.with_neck or self.aml.needs_seg_logits:
            return None
        levels = [self.aml_feat_index]
        levels.extend(getattr(self.aml.scorer, 'aux_feat_indices', ()))
        if self.stage1_text_prompts:
            levels.extend(self.decode_head.text_prompt_levels())
        return levels

    @staticmethod
    def _weighted(losses: Dict[str, Tensor], weight: float) -> Dict[str, Tensor]:
        """Scale the optimised terms (keys containing ``loss``) of a loss dict."""
        if weight == 1.0:
            return losses
        return {k: v * weight if 'loss' in k else v for k, v in losses.items()}

    # ------------------------------------------------------------------ inference
    def encode_decode(self, inputs: Tensor, batch_data_samples: SampleList) -> Tensor:
        """Encode images and expressions and decode logits at the network input size.

        Returns:
            Tensor: Logits ``[B, out_channels, H, W]``.
        """
        feats, text = self._encode(inputs, stack_text_inputs(batch_data_samples))
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        return self.decode_head.predict(feats, *text, batch_img_metas, self.test_cfg)

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Predict the referred masks; AML never runs here.

        Args:
            inputs (Tensor): Normalised images ``[B, 3, H, W]``.
            data_samples (list[SegDataSample]): With the token fields and metainfo
                (``ori_shape``, ``img_shape``, ``padding_size``).

        Returns:
            list[SegDataSample]: With ``seg_logits`` and ``pred_sem_seg`` at ``ori_shape``
            and ``pred_sem_seg_resized`` at ``img_shape``.
        """
        if data_samples is None:
            raise ValueError('AMLSegmentor.predict needs data_samples carrying the tokenised '
                             'expression (text_token_ids, text_attention_mask).')
        seg_logits = self.encode_decode(inputs, data_samples)
        return self.postprocess_result(seg_logits, data_samples)

    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: OptSampleList = None) -> SampleList:
        """mmseg's post-processing, plus the prediction at the network input size."""
        resized = []
        if data_samples is not None:
            _, _, height, width = seg_logits.shape
            for i, sample in enumerate(data_samples):
                left, right, top, bottom = sample.metainfo.get('padding_size', [0] * 4)
                logits = seg_logits[i, :, top:height - bottom, left:width - right]
                resized.append(logits_to_mask(logits, self.decode_head.threshold))
        data_samples = super().postprocess_result(seg_logits, data_samples)
        for sample, mask in zip(data_samples, resized):
            sample.set_data(dict(pred_sem_seg_resized=PixelData(data=mask)))
        return data_samples

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Raw decode head logits ``[B, out_channels, h, w]`` (``mode='tensor'``)."""
        if data_samples is None:
            raise ValueError('AMLSegmentor needs data_samples carrying the tokenised '
                             'expression (text_token_ids, text_attention_mask).')
        feats, text = self._encode(inputs, stack_text_inputs(data_samples))
        return self.decode_head.forward(feats, *text)

    def aug_test(self, inputs, batch_img_metas, rescale=True):
        """Test-time augmentation is not offered: flips would contradict 'left'/'right'."""
        raise NotImplementedError('AMLSegmentor has no test-time augmentation: a flipped '
                                  'image no longer matches words like "left" or "right".')
