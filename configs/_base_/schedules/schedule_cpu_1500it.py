# A short iteration-based schedule for the CPU SynRef configs (minutes on two cores).
# AdamW as the CARIS recipe but with a from-scratch-friendly lr 1e-3 (the visual backbone has no
# pretrained weights here) and the pretrained text encoder at x0.1; fp32; clip 1.0;
# 100-iteration linear warm-up, then poly 0.9.
max_iters = 1500
optim_wrapper = dict(
    type='SkipNonFiniteOptimWrapper',  # OptimWrapper + NaN/Inf-loss skipping
    constructor='RISOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(
        lr_mult={'text_encoder': 0.1},
        no_decay_keys=('embeddings', 'prompt'),
        no_decay_norm=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # SafeCheckpointHook: CheckpointHook with atomic writes (a kill never truncates one).
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2,
                    save_best='oIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Generators in every checkpoint: --resume continues exactly (RandomStateHook).
    random_state=dict(type='RandomStateHook'),
    visualization=dict(type='SegVisualizationHook'))
auto_scale_lr = dict(enable=False, base_batch_size=8)
