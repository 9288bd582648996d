# Copyright (c) mmamlris contributors. All rights reserved.
import copy
import glob
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

from mmamlris.engine.hooks import AMLStepRecorder, AMLVisualizationHook
from mmamlris.engine.hooks import aml_visualization_hook as hook_module
from mmamlris.registry import HOOKS, MODELS
from mmamlris.testing.tiny_configs import TINY_AML, TINY_MODEL, make_tiny_synref
from mmamlris.testing.ris_inputs import demo_ris_inputs, tiny_aml_cfg, tiny_segmentor_cfg
from mmamlris.visualization import RISLocalVisualizer

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# minmax scores always have a cell at 0 < tau: some blocks are weak; rho=1 masks them all.
AML = tiny_aml_cfg(tau=0.5, rho=1.0)
MEAN_RGB = np.array([124, 116, 104])  # the data preprocessor's mean, rounded
NUM_PANELS = 7  # input, heat map, weak set, block mask, masked input, prediction, GT


def build(aml=AML):
    torch.manual_seed(0)
    cfg = tiny_segmentor_cfg(aml=copy.deepcopy(aml))
    # mmseg 1.2.2's CrossEntropyLoss with class_weight raises IndexError on ignored (255)
    # labels, which the padding of 60 x 90 images brings; the hook does not care about the loss.
    cfg['decode_head']['loss_decode']['class_weight'] = None
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def observed(hook):
    """Whether the hook has forward hooks in place on the model (a drawing step)."""
    return hook._recorder is not None and hook._recorder.started


def vis_files(save_dir):
    return sorted(glob.glob(osp.join(str(save_dir), '**', 'vis_image', '*.png'),
                            recursive=True))


def mock_runner(request, tmp_path, model):
    visualizer = RISLocalVisualizer.get_instance(
        f'hook_{request.node.name}', vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path))
    return SimpleNamespace(model=model, iter=0, visualizer=visualizer)


def train_iter(hook, runner, data, optim):
    hook.before_train_iter(runner, runner.iter, data)
    runner.model.train_step(copy.deepcopy(data), optim)
    hook.after_train_iter(runner, runner.iter, data, None)
    runner.iter += 1


def test_hook_is_registered_and_checks_its_arguments():
    hook = HOOKS.build(dict(type='AMLVisualizationHook', interval=3, num_samples=2))
    assert (hook.interval, hook.num_samples, hook.draw) == (3, 2, True)
    for bad in (dict(interval=0), dict(num_samples=-1), dict(interval=1.5)):
        with pytest.raises(ValueError, match='positive int'):
            AMLVisualizationHook(**bad)


def test_hook_draws_every_interval_with_a_real_model(request, tmp_path):
    model = build()
    runner = mock_runner(request, tmp_path, model)
    hook = AMLVisualizationHook(interval=2, num_samples=2)
    hook.before_run(runner)
    # 60 x 90 images are padded to 64 x 96 (size_divisor=32); the panels crop the padding.
    data = demo_ris_inputs(batch_size=3, image_shapes=((60, 90), ))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))

    hook.before_train_iter(runner, 0, data)
    assert not observed(hook)  # iteration 1 of 2: not a drawing step
    train_iter(hook, runner, data, optim)
    assert vis_files(tmp_path) == []

    hook.before_train_iter(runner, 1, data)
    assert observed(hook)
    recorder = hook._recorder
    model.train_step(copy.deepcopy(data), optim)
    assert set(recorder.record) >= {'inputs', 'masked_inputs', 'block_mask', 'weak_mask',
                                    'score_map', 'seg_logits'}
    hook.after_train_iter(runner, 1, data, None)
    assert not observed(hook) and not recorder.started
    assert not model.aml._forward_hooks and not model.decode_head._forward_hooks

    files = vis_files(tmp_path)
    assert [osp.basename(f) for f in files] == ['aml_sample0_2.png', 'aml_sample1_2.png']
    for index, path in enumerate(files):
        drawn = cv2.imread(path)[..., ::-1]
        assert drawn.shape[1] == NUM_PANELS * 90 and drawn.shape[0] > 60
        panels = [drawn[:60, i * 90:(i + 1) * 90].astype(int) for i in range(NUM_PANELS)]
        # panel 0 is the raw image (BGR uint8 from the loader) back in RGB
        raw = data['inputs'][index].numpy()[::-1].transpose(1, 2, 0).astype(int)
        assert np.abs(panels[0] - raw).max() <= 1
        # the masked input: the raw image, with whole blocks at the mean colour
        masked = panels[4]
        at_mean = (np.abs(masked - MEAN_RGB) <= 1).all(axis=2)
        assert at_mean.any()
        assert np.abs(masked[~at_mean] - raw[~at_mean]).max() <= 1
        # the GT panel changes exactly the GT box of demo_ris_inputs (60 x 90 image)
        gt_box = np.zeros((60, 90), bool)
        gt_box[15:30, 22:45] = True
        changed = (panels[6] != panels[0]).any(axis=2)
        assert not changed[~gt_box].any()
        assert changed[gt_box].mean() > 0.9


def test_hook_warns_once_and_does_nothing_for_the_baseline(request, tmp_path, monkeypatch):
    logs = []
    monkeypatch.setattr(hook_module, 'print_log', lambda msg, **kw: logs.append(msg))
    model = build(aml=None)
    runner = mock_runner(request, tmp_path, model)
    hook = AMLVisualizationHook(interval=1)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    data = demo_ris_inputs(batch_size=2)
    for _ in range(2):
        train_iter(hook, runner, data, optim)
        assert not observed(hook)
    assert len(logs) == 1 and 'without AML' in logs[0]
    assert vis_files(tmp_path) == []


def test_hook_only_draws_on_the_main_process(request, tmp_path, monkeypatch):
    monkeypatch.setattr(hook_module, 'is_main_process', lambda: False)
    model = build()
    runner = mock_runner(request, tmp_path, model)
    hook = AMLVisualizationHook(interval=1)
    hook.before_train_iter(runner, 0, None)
    assert not observed(hook) and not model.aml._forward_hooks
    hook.after_train_iter(runner, 0, None, None)
    assert vis_files(tmp_path) == []


def test_hook_unwraps_model_wrappers(request, tmp_path, monkeypatch):
    model = build()
    wrapper = SimpleNamespace(module=model)
    monkeypatch.setattr(hook_module, 'is_model_wrapper', lambda m: m is wrapper)
    runner = mock_runner(request, tmp_path, wrapper)
    hook = AMLVisualizationHook(interval=1)
    hook.before_train_iter(runner, 0, None)
    assert observed(hook) and hook._recorder.model is model
    assert len(model.aml._forward_hooks) == 1


def test_hook_needs_the_ris_visualizer(request):
    runner = SimpleNamespace(
        model=None, visualizer=Visualizer.get_instance(f'plain_{request.node.name}'))
    with pytest.raises(TypeError, match='RISLocalVisualizer'):
        AMLVisualizationHook().before_run(runner)
    AMLVisualizationHook(draw=False).before_run(runner)  # nothing to draw: no error


def test_observing_changes_nothing_the_model_computes():
    """The same step with and without the recorder: identical losses and weights after it."""
    data = demo_ris_inputs(batch_size=2, image_shapes=((64, 64), ))
    results = []
    for observe in (False, True):
        model = build()
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
        torch.manual_seed(5)
        if observe:
            with AMLStepRecorder(model) as recorder:
                log_vars = model.train_step(copy.deepcopy(data), optim)
            assert recorder.record['block_mask'].any()
        else:
            log_vars = model.train_step(copy.deepcopy(data), optim)
        results.append((log_vars, model.state_dict()))
    (logs_a, state_a), (logs_b, state_b) = results
    assert logs_a.keys() == logs_b.keys()
    assert all(torch.equal(torch.as_tensor(logs_a[k]), torch.as_tensor(logs_b[k]))
               for k in logs_a)
    for key, value in state_a.items():
        assert torch.equal(value, state_b[key]), key


def test_recorder_needs_aml_and_keeps_the_stage2_logits():
    with pytest.raises(ValueError, match='needs a model with `aml`'):
        AMLStepRecorder(build(aml=None))
    model = build()
    model.stage1_loss_weight = 0.5  # stage 1 calls the decode head too: the last call wins
    data = model.data_preprocessor(demo_ris_inputs(batch_size=2), True)
    logits = []
    model.decode_head.register_forward_hook(lambda m, a, o: logits.append(o))
    with AMLStepRecorder(model) as recorder:
        model(**data, mode='loss')
    assert len(logits) == 2
    assert torch.equal(recorder.record['seg_logits'], logits[-1].detach())


def test_denormalize_inverts_the_preprocessor():
    model = build()
    data = demo_ris_inputs(batch_size=2, image_shapes=((64, 64), ))
    inputs = model.data_preprocessor(copy.deepcopy(data), False)['inputs']
    images = model.data_preprocessor.denormalize(inputs)
    assert images.dtype == np.uint8 and images.shape == (2, 64, 64, 3)
    for image, raw in zip(images, data['inputs']):
        expected = raw.numpy()[::-1].transpose(1, 2, 0)  # BGR -> RGB
        assert np.abs(image.astype(int) - expected).max() <= 1


def test_hook_in_a_runner_on_synref(request, tmp_path):
    """The AML SynRef config (which lists the hook), shrunk; two training iterations."""
    data_root = tmp_path / 'synref'
    make_tiny_synref(str(data_root), num_images=6, seed=0)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'amlris', 'amlris_lite_minilm_synref-160x160.py'))
    assert cfg.custom_hooks[0]['type'] == 'AMLVisualizationHook'
    cfg.merge_from_dict({
        **TINY_MODEL,
        **TINY_AML,
        'model.aml.filter.tau': 0.5,
        'model.aml.filter.rho': 1.0,
        'train_dataloader.dataset.data_root': str(data_root),
        'train_dataloader.batch_size': 3,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_iters': 2,
        'default_hooks.logger.interval': 1,
        'visualizer.name': f'runner_{request.node.name}',
    })
    cfg.default_hooks.checkpoint = None
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.train_cfg.val_interval = 100
    cfg.custom_hooks[0].update(interval=1, num_samples=2)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    files = vis_files(tmp_path / 'work')
    assert sorted(osp.basename(f) for f in files) == [
        'aml_sample0_1.png', 'aml_sample0_2.png', 'aml_sample1_1.png', 'aml_sample1_2.png']
    for path in files:
        drawn = cv2.imread(path)
        # SynRef images are resized to 160 x 160 by the training pipeline
        assert drawn.shape[1] == NUM_PANELS * 160 and drawn.shape[0] > 160
    assert not runner.model.aml._forward_hooks and not runner.model.decode_head._forward_hooks


def test_the_alignment_of_each_drawn_sample_is_read_once():
    from mmamlris.models.aml import per_image_alignment
    model = build(tiny_aml_cfg(scorer=dict(type='OracleScorer'), tau=0.5, rho=0.5))
    data = demo_ris_inputs(batch_size=2, image_shapes=((64, 64), ))
    processed = model.data_preprocessor(copy.deepcopy(data), True)
    with AMLStepRecorder(model) as recorder:
        model(**processed, mode='loss')
    record = recorder.record
    alignments = per_image_alignment(record['score_map'], record['block_mask'],
                                     data['data_samples'], model.aml.block_size)
    assert [a['target_auc'] for a in alignments] == [1.0, 1.0]
    assert [a['object_masked'] for a in alignments] == [0.0, 0.0]
    assert all(0.0 < a['context_masked'] < 1.0 for a in alignments)
    assert per_image_alignment(record['score_map'], record['block_mask'], [],
                               model.aml.block_size) is None
    # the hook's captions carry exactly those numbers
    captions = []
    visualizer = RISLocalVisualizer.get_instance(f'alignment_{id(record)}')
    real = visualizer.add_aml_panels
    visualizer.add_aml_panels = lambda *a, **kw: captions.append(kw['alignment']) or real(
        *a, **kw)
    runner = SimpleNamespace(visualizer=visualizer, iter=0)
    AMLVisualizationHook(num_samples=2)._draw(runner, model, record, data['data_samples'])
    assert captions == alignments
