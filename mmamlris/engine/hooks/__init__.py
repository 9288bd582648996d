# Copyright (c) mmamlris contributors. All rights reserved.
from .aml_step_recorder import AMLStepRecorder
from .aml_visualization_hook import AMLVisualizationHook
from .random_state_hook import RandomStateHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ['AMLStepRecorder', 'AMLVisualizationHook', 'RandomStateHook', 'SafeCheckpointHook']
