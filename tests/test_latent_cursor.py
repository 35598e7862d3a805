"""explorer.models.LatentCursor: the one copy of z, the interpolation ends and the selection; no window built."""

import pytest

from explorer.models.latent_cursor import LatentCursor


@pytest.fixture
def cursor(qapp):
    c = LatentCursor()
    c.fit(3)
    return c


def test_moves_carry_their_origin_and_ignore_another_models_size(cursor):
    seen = []
    cursor.sig_moved.connect(lambda z, origin: seen.append((z.tolist(), origin)))
    who = object()
    assert cursor.move_to([1, 2, 3], origin=who)
    assert not cursor.move_to([1, 2])  # another model's vector: nothing moves
    assert seen == [([1.0, 2.0, 3.0], who)]
    z = cursor.z
    z[0] = 99  # a copy: nobody changes the cursor behind its back
    assert cursor.z.tolist() == [1.0, 2.0, 3.0]


def test_a_model_of_another_size_starts_from_zero_with_no_ends_or_selection(cursor):
    cursor.move_to([1, 1, 1])
    cursor.set_end("a", [1, 0, 0], "#4")
    cursor.set_selection([5, 2, 2])
    assert cursor.selection.tolist() == [2, 5] and cursor.end("a")[1] == "#4"
    ends, selections = [], []
    cursor.sig_end_changed.connect(ends.append)
    cursor.sig_selection_changed.connect(lambda p: selections.append(p.tolist()))
    assert not cursor.fit(3)  # the same size: nothing is lost
    assert cursor.fit(5)
    assert cursor.z.tolist() == [0.0] * 5 and cursor.end("a") is None and len(cursor.selection) == 0
    assert sorted(ends) == ["a", "b"] and selections == [[]]


def test_the_selection_is_announced_only_when_it_changes(cursor):
    seen = []
    cursor.sig_selection_changed.connect(lambda p: seen.append(p.tolist()))
    cursor.set_selection([3, 1])
    cursor.set_selection([1, 3])
    cursor.clear_selection()
    assert seen == [[1, 3], []]
    with pytest.raises(ValueError):
        cursor.set_end("c", [0, 0, 0])
