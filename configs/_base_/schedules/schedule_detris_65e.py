# The DETRIS recipe (docs/en/detris.md#recipe): Adam lr 1e-4 without weight decay on the
# adapters and the head only (the frozen towers never reach the optimizer), x0.1 after epochs
# 35 and 55 of 65, fp16 autocast with a dynamic loss scale, no gradient clipping; validation
# and the best checkpoint (mIoU, DETRIS's criterion) every epoch.
optim_wrapper = dict(
    type='SkipNonFiniteAmpOptimWrapper',  # AmpOptimWrapper + NaN/Inf-loss skipping
    dtype='float16',
    loss_scale='dynamic',
    constructor='RISOptimWrapperConstructor',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0))
param_scheduler = [
    dict(type='MultiStepLR', milestones=[35, 55], gamma=0.1, by_epoch=True, begin=0, end=65)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=65, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # SafeCheckpointHook: CheckpointHook with atomic writes (a kill never truncates one).
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2,
                    save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Generators in every checkpoint: --resume continues exactly (RandomStateHook).
    random_state=dict(type='RandomStateHook'),
    visualization=dict(type='SegVisualizationHook'))
# The adapters' BatchNorms become SyncBatchNorm in distributed runs, as in DETRIS (CUDA only:
# set sync_bn=None for a CPU/gloo DDP run).
sync_bn = 'torch'
# Total batch 32 = 2 GPUs x 16 (DETRIS). Automatic lr scaling is off by default; turn it on
# with --cfg-options auto_scale_lr.enable=True when training with another total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=32)
