"""``rename``: give loops a new source name, so a later pass can target them apart.

Options:
    loop (str, required): the current source name (every loop with it is renamed).
    to (str, required): the new name.

Why: tiling a loop twice (cache blocks, then register tiles) names both tile loops
``<loop>.tile``; renaming the first (``tile{i=192},rename{loop=i.tile,to=ic},tile{i=6}``)
keeps every loop of the schedule addressable by name.

Before → after (``rename{loop=i.tile,to=ic}``)::

    affine.for %it = 0 to 512 step 192 {...} {uk.name = "i.tile"}
      →  affine.for %it = 0 to 512 step 192 {...} {uk.name = "ic"}
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import affine_loops, loop_name, loop_names, set_loop_name

from .base import Pass, register


@register
@dataclasses.dataclass(frozen=True)
class Rename(Pass):
    """Rename(loop, to): the ``rename`` pass; `register` gives it the module docstring (options,
    before → after)."""
    name: ClassVar[str] = "rename"
    scope_options: ClassVar[tuple] = ("loop", "to")  # (a nest already using ``to`` sees it)
    loop: str = ""
    to: str = ""

    def apply(self, module) -> None:
        """Rename every loop named ``loop`` to ``to`` (nothing when ``loop`` is a ``<name>.tile``
        loop that a tile size covering the whole loop did not make)."""
        if not self.loop or not self.to:
            raise TransformError("rename needs loop=<name> and to=<new name>")
        loops = [l for l in affine_loops(module) if loop_name(l) == self.loop]
        if not loops:
            if self.loop.endswith(".tile") and self.loop[:-len(".tile")] in loop_names(module):
                return  # a tile size that covered the whole loop left no tile loop at this size
            raise TransformError(f"rename: no loop named {self.loop!r}; the loops are {loop_names(module)}")
        if self.to in loop_names(module):
            raise TransformError(f"rename: a loop named {self.to!r} exists already")
        for l in loops:
            set_loop_name(l, self.to)
