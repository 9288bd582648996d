# Copyright (c) mmamlris contributors. All rights reserved.
"""Errors raised for bad user input: data files, annotations, pretrained paths.

They subclass the built-in type a caller would expect (``ValueError``,
``FileNotFoundError``) *and* :class:`InputError`, so ``tools/train.py`` and ``tools/test.py``
can print the message alone, without a traceback, while library users can still catch the
usual built-in types. Messages name the file or config field and say what to do.
"""
from typing import Callable

__all__ = [
    'InputError', 'InputValueError', 'InputFileNotFoundError', 'input_error_message', 'run_tool'
]


class InputError(Exception):
    """Base class: the input (data, annotation, path in the config) is wrong, not the code."""


class InputValueError(InputError, ValueError):
    """A file or field holds something it should not."""


class InputFileNotFoundError(InputError, FileNotFoundError):
    """A file or directory named by the config or the data does not exist."""


def input_error_message(error: BaseException) -> str:
    """The message of an :class:`InputError`, without what wrappers put around it.

    Errors raised in a dataloader worker come back with the worker's traceback in the message
    (``Caught InputValueError in DataLoader worker process 0. Original Traceback ...``); only
    the original message after the last ``InputValueError: `` is kept.
    """
    text = str(error)
    if 'Original Traceback' in text:
        text = text.rsplit(f'{type(error).__name__}: ', 1)[-1]
    return text.strip()


def run_tool(main: Callable[[], object]) -> None:
    """Run a command-line tool's ``main``; bad input (:class:`InputError`) ends it with the
    message alone (exit status 1), not a traceback, also when raised in a dataloader worker."""
    try:
        main()
    except InputError as error:
        raise SystemExit(f'Error: {input_error_message(error)}') from None
