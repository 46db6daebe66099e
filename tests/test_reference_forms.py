"""benchmarks/fidelity/reference_forms.py: ours against each reference's form (issue #25)."""

import re

import pytest

from benchmarks.fidelity import reference_forms


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_LT_FIDELITY_CACHE", str(tmp_path))


def test_each_comparison_differs_in_one_option_that_changes_the_fit(cache, monkeypatch):
    # The reference's parameters are ours plus the option(s) that name its form.
    for row, difference, head, ours, reference in reference_forms.COMPARISONS:
        changed = {k for k in reference if ours.get(k) != reference[k]}
        assert changed and set(ours) <= set(reference), (row, difference)
        head(**reference)  # every option exists under this name
    # One comparison on real data: the form changes the fit, and the table says so.
    monkeypatch.setattr(reference_forms, "COMPARISONS", reference_forms.COMPARISONS[:1])
    results = reference_forms.run(["pixels"], [0])
    ((key, by_source),) = results.items()
    ours, theirs = by_source["pixels"]
    assert 0 < ours <= 1 and 0 < theirs <= 1 and ours != theirs
    table = reference_forms.format_results(results, ["pixels"])
    assert re.search(rf"\| CB loss \| .* \| {ours:.3f} / {theirs:.3f} \| [01] of 1 \|", table)
