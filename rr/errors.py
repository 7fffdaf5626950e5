"""The exceptions a user sees.

Every error that is the user's or the guest's doing is an ``RrError`` whose
message is one line saying what went wrong and where; the CLI catches it once
and prints it without a traceback.
"""

from __future__ import annotations


class RrError(Exception):
    """Base of all errors reported to the user as one line."""

    exit_status = 1


class ImageError(RrError):
    """A guest image, initrd or device tree that cannot be loaded."""


class GuestFault(RrError):
    """The guest did something the board cannot continue from."""

    exit_status = 3


class CalibrationError(RrError):
    """The instruction counter inside unicorn could not be located."""


class InstructionLimit(RrError):
    """The run reached --max-insns."""

    exit_status = 4


class InputStop(RrError):
    """The input source cannot answer the guest (a replay diverged or its history
    ended): the run stops at this instruction, whichever device was asking."""
