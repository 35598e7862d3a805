"""trainer.comparability.published: the published figures as data, each with its protocol and whether it was
read in the paper itself."""

from __future__ import annotations

import pytest

from trainer.comparability.published import published_row, published_rows


def test_burda_table_1_is_there_checked_with_its_protocol():
    rows = {r.name: r for r in published_rows()}
    table1 = [r for r in rows.values() if r.source.startswith("Burda") and r.table == "Table 1"]
    assert len(table1) == 12 and all(r.checked and r.figure is not None for r in table1)
    iwae = rows["burda16-iwae-2layer-k50"]
    assert iwae.figure == -82.90 and iwae.layer_sizes == (100, 50) and iwae.k_train == 50
    assert (iwae.dataset, iwae.binarization, iwae.estimator, iwae.estimator_k, iwae.epochs) == (
        "mnist", "dynamic", "iwae", 5000, 3280)
    assert rows["burda16-vae-1layer-k1"].figure == -86.76 and rows["burda16-static-iwae-2layer-k50"].figure == -85.32
    assert rows["burda16-static-vae-1layer-k1"].binarization == "static"


def test_rows_not_read_in_the_paper_say_so():
    vamp, lvae = published_row("tomczak18-vamp-1layer"), published_row("sonderby16-lvae-5layer")
    assert not vamp.checked and "not the paper" in vamp.checked_against
    assert not lvae.checked and lvae.figure is None
    for row in published_rows():
        assert row.checked_against and (row.figure is None or row.figure < 0)


def test_an_unknown_row_is_refused_naming_the_rows():
    with pytest.raises(KeyError, match="burda16-vae-1layer-k1"):
        published_row("nope")
