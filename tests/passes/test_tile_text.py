"""`tile{...}`'s text (`Tile.from_text`) and the pass's normalised fields (`Tile.__post_init__`):
every option in any order, bools in any case, an item with two ``=``, the refusal texts (mutation
testing found these unpinned: a ``break`` for a ``continue`` dropped the options after ``order``
or ``separate``)."""
from __future__ import annotations

import pytest

from unrollkit.core.errors import TransformError
from unrollkit.passes.tile import Tile


def test_options_after_order_and_separate_are_read():
    t = Tile.from_text("order = j.tile:i.tile:: , i=4, separate=false, j = 8")
    assert t == Tile((("i", 4), ("j", 8)), ("j.tile", "i.tile"), False)


@pytest.mark.parametrize("raw,want", [("true", True), ("TRUE", True), ("1", True), ("False", False),
                                      ("0", False)])
def test_separate_takes_a_bool_in_any_case(raw, want):
    assert Tile.from_text(f"i=4,separate={raw}").separate is want


def test_refusals_name_the_option():
    with pytest.raises(TransformError, match=r"^tile option separate='yes' is not a bool$"):
        Tile.from_text("i=4,separate=yes")
    with pytest.raises(TransformError, match=r"^tile size of loop 'i' must be an integer, got '4=5'; "
                                             r"tile's options are <loop>=<size> and order=a:b:\.\.\.$"):
        Tile.from_text("i=4=5")
    with pytest.raises(TransformError, match=r"^tile option 'i' needs a value"):
        Tile.from_text("i")


def test_fields_are_normalised_to_tuples_of_strings():
    t = Tile([["i", 4]], ["a", "b"])
    assert t.sizes == (("i", 4),) and t.order == ("a", "b")
    assert hash(t) == hash(Tile((("i", 4),), ("a", "b")))
