# The released AMLRIS code's training step on the light SynRef model, for the ablation
# (configs/amlris/README.md): the same scorer, filter and losses as
# amlris-official_caris_swin-b_bert-base_2xb8-50e_refcoco-448x448.py.
_base_ = ['./amlris_lite_minilm_synref-160x160.py']
model = dict(
    aml=dict(
        scorer=dict(_delete_=True, type='ReleasedRelevanceScorer', vis_channels=256,
                    text_channels=384),
        filter=dict(_delete_=True, type='ReleasedBlockFilter', tau=0.4, rho=0.25,
                    block_size=32)),
    stage1_loss_weight=0.5,
    stage2_loss_weight=0.5,
    stage2_text='clean')
