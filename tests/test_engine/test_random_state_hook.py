# Copyright (c) mmamlris contributors. All rights reserved.
"""RandomStateHook in isolation; the end-to-end resume test is tests/test_tools/test_resume.py."""
import logging
import random
from types import SimpleNamespace

import numpy as np
import torch

from mmamlris.engine.hooks import RandomStateHook, random_state_hook
from mmamlris.engine.hooks.random_state_hook import capture_random_state, restore_random_state


def draw():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_capture_and_restore_every_generator():
    state = capture_random_state()
    first = draw()
    restore_random_state(state)
    assert draw() == first


def test_checkpoint_round_trip_restores_before_the_next_iteration():
    hook = RandomStateHook()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    expected = draw()
    draw()  # training goes on / a new process starts with other states
    hook.after_load_checkpoint(None, checkpoint)
    runner = SimpleNamespace(train_loop=SimpleNamespace())  # an epoch-based loop
    hook.before_train_epoch(runner)
    assert draw() == expected


def test_validation_leaves_the_generators_as_they_were():
    hook = RandomStateHook()
    state = capture_random_state()
    hook.before_val(None)
    draw()
    hook.after_val(None)
    after = draw()
    restore_random_state(state)
    assert draw() == after


def test_checkpoints_without_states_or_from_other_world_sizes_warn(monkeypatch):
    messages = []
    monkeypatch.setattr(random_state_hook, 'print_log',
                        lambda msg, **kwargs: messages.append((msg, kwargs['level'])))
    hook = RandomStateHook()
    hook.after_load_checkpoint(None, {})
    assert hook._pending is None
    hook.after_load_checkpoint(None, {'random_states': [capture_random_state()] * 2})
    assert hook._pending is None
    assert 'has no random states' in messages[0][0]
    assert 'random states of 2 processes and 1 are running' in messages[1][0]
    assert all(level == logging.WARNING for _, level in messages)
