# The LAVT recipe (docs/en/lavt.md#recipe): AdamW lr 5e-5, weight decay 0.01, polynomial decay
# (1 - it / total) ** 0.9 per iteration with no warm-up, 40 epochs, fp32, no gradient clipping;
# validation and the best checkpoint (oIoU) every epoch.
optim_wrapper = dict(
    type='SkipNonFiniteOptimWrapper',  # OptimWrapper + NaN/Inf-loss skipping
    constructor='RISOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.999), weight_decay=0.01),
    # The official parameter groups: no decay on the backbone's norms and position tables
    # (names holding `norm`, `absolute_pos_embed`, `relative_position_bias_table`; BERT's
    # `LayerNorm`s and the decoder's BatchNorms decay, as officially). LAVT puts only BERT's
    # encoder layers 0-9 in the optimizer: its embeddings and layers 10-11 are never updated,
    # here through an lr of 0 (AdamW then leaves them exactly as loaded).
    paramwise_cfg=dict(
        lr_mult={
            'text_encoder.model.embeddings': 0.0,
            'text_encoder.model.encoder.layer.10': 0.0,
            'text_encoder.model.encoder.layer.11': 0.0,
        },
        no_decay_keys=('norm', 'absolute_pos_embed', 'relative_position_bias_table'),
        no_decay_norm=False))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # SafeCheckpointHook: CheckpointHook with atomic writes (a kill never truncates one).
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2,
                    save_best='oIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Generators in every checkpoint: --resume continues exactly (RandomStateHook).
    random_state=dict(type='RandomStateHook'),
    visualization=dict(type='SegVisualizationHook'))
# The decoder's BatchNorms become SyncBatchNorm in distributed runs, as in LAVT (CUDA only:
# set sync_bn=None for a CPU/gloo DDP run).
sync_bn = 'torch'
# Total batch 32 = 4 GPUs x 8 (LAVT). Automatic lr scaling is off by default; turn it on
# with --cfg-options auto_scale_lr.enable=True when training with another total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=32)
