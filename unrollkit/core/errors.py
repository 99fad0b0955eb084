"""Exceptions. Every error a user can cause derives from `UnrollkitError`."""
from __future__ import annotations


class UnrollkitError(Exception):
    """Base class of every error unrollkit raises on purpose."""


class KernelSyntaxError(UnrollkitError):
    """The kernel source uses something outside the supported subset.

    The message starts with ``file:line:`` of the user's source, like a compiler's.
    """

    def __init__(self, message: str, filename: str = "<kernel>", lineno: int = 0):
        self.filename, self.lineno, self.detail = filename, lineno, message
        super().__init__(f"{filename}:{lineno}: {message}")


class ArgumentError(UnrollkitError, TypeError):
    """Arrays or scalars passed to a compiled kernel do not match its signature."""


class TransformError(UnrollkitError):
    """A loop transformation could not be applied; the message names the loop."""


class CodeSizeError(TransformError):
    """A transformation would generate more code than the budget allows."""


class CompileError(UnrollkitError):
    """MLIR or LLVM rejected the code (a bug in unrollkit if it ever escapes)."""


class ToolMissingError(UnrollkitError):
    """An external tool (a C compiler) needed for a variant is not installed."""
