# DETRIS (DINOv2-B/14 with registers + CLIP ViT-B/16 text, dense adapters) trained with the
# official DETRIS recipe on RefCOCOg (UMD).
# Model and recipe: docs/en/detris.md (2 GPUs x 16, 65 epochs, Adam 1e-4 without weight
# decay on the adapters and the head, x0.1 at epochs 35 and 55, fp16). Data as DETRIS reads
# it: the cleaned `sent` text, CLIP BPE cut to 17 tokens; the image letterboxed to 448x448
# (aspect kept, bicubic, CLIP-mean border); training on the soft GT (the 0/255 mask warped
# bilinearly); evaluation at the original size (the prediction warped back, > 0.35). DETRIS
# validates the first sentence of each referent; every sentence is evaluated here.
_base_ = [
    '../_base_/models/detris_dinov2-b_clip-b.py', '../_base_/datasets/refcocog_umd.py',
    '../_base_/schedules/schedule_detris_65e.py', '../_base_/default_runtime.py'
]
# The public towers converted once (configs/_base_/models/detris_dinov2-b_clip-b.py).
load_from = 'data/pretrained/detris_init_dinov2-b_clip-b.pth'
train_pipeline = [
    dict(type='LoadRISImageFromFile'),
    dict(type='LoadReferringMask'),
    dict(type='LetterBox', size=448),
    dict(type='SampleExpression'),
    dict(type='TokenizeCLIPExpression', max_tokens=17),
    dict(type='PackRISInputs'),
]
test_pipeline = [
    dict(type='LoadRISImageFromFile'),
    dict(type='LetterBox', size=448),
    dict(type='LoadReferringMask'),  # after LetterBox: the GT stays at the original size
    dict(type='SampleExpression'),
    dict(type='TokenizeCLIPExpression', max_tokens=17),
    dict(type='PackRISInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=16,
    dataset=dict(datasets=[
        dict(
            type='RefCOCODataset',
            data_root='data/',
            ann_file='refcocog/instances.json',
            split_file='refcocog/refs(umd).p',
            data_prefix=dict(img_path='coco/train2014/'),
            split=split,
            test_mode=True,
            pipeline=test_pipeline) for split in ('val', 'test')
    ]))
val_evaluator = dict(type='RISMetric', eval_resolution='original')
test_evaluator = val_evaluator
