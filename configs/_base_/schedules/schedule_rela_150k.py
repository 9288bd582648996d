# The ReLA recipe (docs/en/rela.md#recipe): AdamW lr 1e-5, weight decay 0.05, no decay on norms
# (GroupNorm, LayerNorm), position tables and the query decoder's embeddings; BERT's encoder
# layers 0-9 optimised with decay (its LayerNorms included), its embeddings and layers 10-11
# left out (lr 0 here); the whole model's gradient norm clipped to 0.01; fp16; 150k
# iterations of batch 48 with the lr x0.1 at 110k and 140k; validation every 5k iterations.
max_iters = 150000
optim_wrapper = dict(
    type='SkipNonFiniteAmpOptimWrapper',  # AmpOptimWrapper + NaN/Inf-loss skipping
    dtype='float16',
    loss_scale='dynamic',
    constructor='RISOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-5, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        lr_mult={
            'text_encoder.model.embeddings': 0.0,
            'text_encoder.model.encoder.layer.10': 0.0,
            'text_encoder.model.encoder.layer.11': 0.0,
        },
        no_decay_keys=('relative_position_bias_table', 'absolute_pos_embed',
                       'decoder.query_feat', 'decoder.query_embed', 'decoder.level_embed'),
        no_decay_norm=True,
        decay_prefixes=('text_encoder', )))
param_scheduler = [
    dict(type='MultiStepLR', milestones=[110000, 140000], gamma=0.1, by_epoch=False, begin=0,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # SafeCheckpointHook: CheckpointHook with atomic writes (a kill never truncates one).
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=2,
                    save_best='cIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Generators in every checkpoint: --resume continues exactly (RandomStateHook).
    random_state=dict(type='RandomStateHook'),
    visualization=dict(type='SegVisualizationHook'))
# Total batch 48 = 8 GPUs x 6 (ReLA). Automatic lr scaling is off by default; turn it on
# with --cfg-options auto_scale_lr.enable=True when training with another total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=48)
