# Runtime shared by every mmamlris config.
default_scope = 'mmseg'
# mmamlris registers its components into mmseg's registries when imported.
custom_imports = dict(imports=['mmamlris'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to 'gloo' when no CUDA device is present.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='RISLocalVisualizer', vis_backends=vis_backends, name='visualizer')
# `skipped_updates`: total of NaN/Inf losses skipped so far (SkipNonFinite*OptimWrapper), shown
# as its latest value rather than averaged over the logging window (max over a window of 1:
# mmengine 0.10 wants a window_size in custom_cfg, which 'current' does not take).
log_processor = dict(
    by_epoch=False,
    custom_cfg=[dict(data_src='skipped_updates', method_name='max', window_size=1)])
log_level = 'INFO'
load_from = None
resume = False
# A fixed seed for reproducible runs; each rank gets its own stream (seed + rank), so the
# random block choices of AML differ between GPUs.
randomness = dict(seed=0, diff_rank_seed=True)
tta_model = None
