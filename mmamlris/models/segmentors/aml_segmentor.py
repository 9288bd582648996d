# Copyright (c) mmamlris contributors. All rights reserved.
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig, OptSampleList,
                         SampleList, add_prefix)
from torch import Tensor

from mmamlris.registry import MODELS
from ..data_preprocessor import stack_text_inputs

TextFeatures = Tuple[Tensor, Tensor]  # ([B, N, C_t] token features, [B, N] bool mask)


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
    ``train_step`` override:

    .. code:: text

     loss(): [aml is None] _encode() -> _decode_head_forward_train()
             [aml]         _stage1() -> aml() -> _encode(masked) -> _decode_head_forward_train()
     _stage1(): no grad: _extract_visual(img, downscaled by stage1_scale)
                      -> decode_head.text_prompts() -> text_encoder()
                (with stage1_loss_weight > 0: with grad, plus the decode head loss)
     _encode(): _extract_visual() -> decode_head.text_prompts() -> text_encoder()

    When the decode head adds no visual prompts to the text, the text features do not depend
    on the image: stage 2 encodes the text once, with gradient, and stage 1 reuses them
    detached, so AML costs one extra visual-encoder forward without gradient. Stage 1 runs in
    the model's current mode: a BatchNorm backbone in training mode updates its running
    statistics on the clean images too (as the official code's first pass does).

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
            the official code.
        stage1_loss_weight (float): Weight of the segmentation loss on the unmasked stage-1
            forward. 0 (the paper) runs stage 1 without gradient and without the decoder;
            the official code uses 0.5 (and 0.5 on stage 2), about doubling the step's cost.
        stage1_scale (float): Input scale of stage 1 (e.g. 0.5 runs the alignment pass at half
            resolution; the score map is coarse anyway). Defaults to 1.0.
        stage2_loss_weight (float): Weight of the stage-2 (masked) loss. Defaults to 1.0.
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
                 stage2_loss_weight: float = 1.0,
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
                       stage2_loss_weight)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg if test_cfg is not None else dict()
        # Set by AMLVisualizationHook: keep the tensors of the next training step for drawing.
        self.record_aml: bool = False
        self.aml_record: Optional[Dict[str, object]] = None

    def _init_decode_head(self, decode_head: ConfigType) -> None:
        """Initialize ``decode_head``."""
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels

    def _init_aml(self, aml: OptConfigType, feat_index: int, stage1_loss_weight: float,
                  stage1_scale: float, stage2_loss_weight: float) -> None:
        """Initialize the alignment-aware masking module and its training options."""
        if stage1_loss_weight < 0 or stage2_loss_weight < 0:
            raise ValueError('stage1_loss_weight and stage2_loss_weight must be >= 0, got '
                             f'{stage1_loss_weight} and {stage2_loss_weight}.')
        if not 0 < stage1_scale <= 1:
            raise ValueError(f'stage1_scale must be in (0, 1], got {stage1_scale}.')
        self.aml = MODELS.build(aml) if aml is not None else None
        self.aml_feat_index = feat_index
        self.stage1_loss_weight = float(stage1_loss_weight)
        self.stage1_scale = float(stage1_scale)
        self.stage2_loss_weight = float(stage2_loss_weight)

    @property
    def with_aml(self) -> bool:
        """bool: Whether the model trains with alignment-aware masking."""
        return self.aml is not None

    @property
    def compat_official(self) -> bool:
        """bool: Whether AML reproduces the released AMLRIS code (see ``_loss_official``)."""
        return self.with_aml and bool(getattr(self.aml, 'compat_official', False))

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
                data_samples: SampleList) -> Tuple[List[Tensor], TextFeatures]:
        """Visual features and text features of one batch."""
        input_ids, attention_mask = stack_text_inputs(data_samples)
        feats = self.extract_feat(inputs)
        return feats, self.encode_text(feats, input_ids, attention_mask)

    # ------------------------------------------------------------------ training
    def _decode_head_forward_train(self, feats: List[Tensor], text: TextFeatures,
                                   data_samples: SampleList) -> Dict[str, Tensor]:
        """Run the decode head's loss (and keep its logits when recording for the hook)."""
        if self.record_aml:
            seg_logits = self.decode_head(feats, *text)
            if self.aml_record is not None:
                self.aml_record['seg_logits'] = seg_logits.detach()
            losses = self.decode_head.loss_by_feat(seg_logits, data_samples)
        else:
            losses = self.decode_head.loss(feats, *text, data_samples, self.train_cfg)
        return add_prefix(losses, 'decode')

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Compute the losses of one batch, with both AML stages when AML is on.

        Args:
            inputs (Tensor): Normalised, padded images ``[B, 3, H, W]``.
            data_samples (list[SegDataSample]): With ``gt_sem_seg`` and the token fields.

        Returns:
            dict[str, Tensor]: ``decode.loss_*`` (stage 2), ``stage1.loss_*`` when
            ``stage1_loss_weight > 0``, and ``aml_*`` statistics (logged, not optimised).
        """
        self.aml_record = None
        if not self.with_aml:
            feats, text = self._encode(inputs, data_samples)
            return self._decode_head_forward_train(feats, text, data_samples)
        for sample in data_samples:  # the unpadded sizes (host metadata, no sync)
            self.aml.check_image_size(*sample.img_shape[:2])
        if self.compat_official:
            return self._loss_official(inputs, data_samples)

        input_ids, attention_mask = stack_text_inputs(data_samples)
        losses: Dict[str, Tensor] = dict()
        vis1, text1, text2 = self._stage1(inputs, input_ids, attention_mask, data_samples,
                                          losses)
        aml_out = self.aml(inputs, vis1[self.aml_feat_index], *text1)
        del vis1, text1  # free the stage-1 features before the stage-2 forward
        self._record(inputs, aml_out)
        losses.update(aml_out.stats)

        feats = self.extract_feat(aml_out.masked_inputs)
        if text2 is None:
            text2 = self.encode_text(feats, input_ids, attention_mask)
        stage2 = self._decode_head_forward_train(feats, text2, data_samples)
        losses.update(self._weighted(stage2, self.stage2_loss_weight))
        return losses

    def _stage1(self, inputs: Tensor, input_ids: Tensor, attention_mask: Tensor,
                data_samples: SampleList, losses: Dict[str, Tensor]
                ) -> Tuple[List[Tensor], TextFeatures, Optional[TextFeatures]]:
        """Stage 1, the alignment pass on the unmasked images.

        It runs under ``torch.no_grad()``, not ``torch.inference_mode()``: inference mode
        measured no faster (lite SynRef config on the CPU, within noise), and a tensor that a
        module computes in stage 1 and keeps for later (a cache) would be an inference tensor,
        which stage 2 cannot save for its backward pass.

        Returns:
            tuple: The visual features and text features of stage 1 (detached), and the
            stage-2 text features when they could be computed here once for both stages
            (``None`` otherwise).
        """
        if self.stage1_loss_weight > 0:
            # The official recipe: a full forward with gradient and its own loss.
            feats, text = self._encode(inputs, data_samples)
            stage1 = self._decode_head_forward_train(feats, text, data_samples)
            losses.update(add_prefix(self._weighted(stage1, self.stage1_loss_weight),
                                     'stage1'))
            return [f.detach() for f in feats], (text[0].detach(), text[1]), None

        x = inputs
        if self.stage1_scale != 1.0:
            x = F.interpolate(x, scale_factor=self.stage1_scale, mode='bilinear',
                              align_corners=False)
        with torch.no_grad():
            feats = self.extract_feat(x)
            prompts = self.decode_head.text_prompts(feats)
            text1 = None
            if prompts is not None:
                text1 = self.text_encoder(input_ids, attention_mask, prompts)
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

    def _loss_official(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """The released AMLRIS training step, for comparison (``compat_official=True``).

        Pass 1 is a full forward with gradient on the clean image. Pass 2 runs the visual
        encoder on the clean image again for the text path (so its text features never see
        the mask), builds the masked image, runs the visual encoder a third time on it and
        decodes: three backbone passes per step (RIS_REFERENCE §1.6). Losses are weighted by
        ``stage1_loss_weight`` and ``stage2_loss_weight`` (0.5 each in the official code).
        """
        input_ids, attention_mask = stack_text_inputs(data_samples)
        losses: Dict[str, Tensor] = dict()
        vis1, text1, _ = self._stage1(inputs, input_ids, attention_mask, data_samples, losses)
        aml_out = self.aml(inputs, vis1[self.aml_feat_index], *text1)
        self._record(inputs, aml_out)
        losses.update(aml_out.stats)
        clean_feats = self.extract_feat(inputs)
        text2 = self.encode_text(clean_feats, input_ids, attention_mask)
        feats = self.extract_feat(aml_out.masked_inputs)
        stage2 = self._decode_head_forward_train(feats, text2, data_samples)
        losses.update(self._weighted(stage2, self.stage2_loss_weight))
        return losses

    @staticmethod
    def _weighted(losses: Dict[str, Tensor], weight: float) -> Dict[str, Tensor]:
        """Scale the optimised terms (keys containing ``loss``) of a loss dict."""
        if weight == 1.0:
            return losses
        return {k: v * weight if 'loss' in k else v for k, v in losses.items()}

    def _record(self, inputs: Tensor, aml_out) -> None:
        """Keep the tensors of this step for :class:`AMLVisualizationHook` when asked to."""
        if not self.record_aml:
            return
        self.aml_record = dict(
            inputs=inputs.detach(),
            masked_inputs=aml_out.masked_inputs.detach(),
            block_mask=aml_out.block_mask,
            weak_mask=aml_out.weak_mask,
            score_map=aml_out.score_map)

    # ------------------------------------------------------------------ inference
    def encode_decode(self, inputs: Tensor, batch_data_samples: SampleList) -> Tensor:
        """Encode images and expressions and decode logits at the network input size.

        Returns:
            Tensor: Logits ``[B, out_channels, H, W]``.
        """
        feats, text = self._encode(inputs, batch_data_samples)
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
                resized.append(self._logits_to_mask(logits))
        data_samples = super().postprocess_result(seg_logits, data_samples)
        for sample, mask in zip(data_samples, resized):
            sample.set_data(dict(pred_sem_seg_resized=PixelData(data=mask)))
        return data_samples

    def _logits_to_mask(self, logits: Tensor) -> Tensor:
        """``[C, H, W]`` logits -> ``[1, H, W]`` mask, as mmseg's post-processing decides."""
        if logits.shape[0] > 1:
            return logits.argmax(dim=0, keepdim=True)
        return (logits.sigmoid() > self.decode_head.threshold).to(logits)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Raw decode head logits ``[B, out_channels, h, w]`` (``mode='tensor'``)."""
        if data_samples is None:
            raise ValueError('AMLSegmentor needs data_samples carrying the tokenised '
                             'expression (text_token_ids, text_attention_mask).')
        feats, text = self._encode(inputs, data_samples)
        return self.decode_head.forward(feats, *text)

    def aug_test(self, inputs, batch_img_metas, rescale=True):
        """Test-time augmentation is not offered: flips would contradict 'left'/'right'."""
        raise NotImplementedError('AMLSegmentor has no test-time augmentation: a flipped '
                                  'image no longer matches words like "left" or "right".')
