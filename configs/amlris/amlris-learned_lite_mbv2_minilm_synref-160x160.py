# AML with the learned scorer (beyond the paper) on the light SynRef model with the pretrained
# MobileNetV2: a small head trained on the detached stage-1 features against the GT cells
# (LearnedScorer, docs/en/aml_alignment.md). Its cells read the stride-32 level and, pooled to
# that grid, the stride-16 one (layer 5, 96 channels). Otherwise identical to
# amlris_lite_mbv2_minilm_synref-160x160.py.
_base_ = ['./amlris_lite_mbv2_minilm_synref-160x160.py']
model = dict(
    aml=dict(
        scorer=dict(
            _delete_=True,
            type='LearnedScorer',
            vis_channels=320,
            text_channels=384,
            aux_feat_indices=(-2, ),
            aux_channels=(96, ))))
