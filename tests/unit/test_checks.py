"""Pitfalls: a legacy or wrong call's error or warnings, shown in short with the fix."""

from __future__ import annotations

import warnings

from labkit.measure import checks


def test_an_error_shows_its_type_and_first_line_only():
    try:
        raise AssertionError("Guard failed: x.size()[0] == 64\n  File 'guards.py', line 3\n    ...")
    except AssertionError as err:
        p = checks.pitfall("compiled at batch 64, called with 3", err, "one graph per batch size")
    assert str(p) == ("compiled at batch 64, called with 3 -> AssertionError: Guard failed: x.size()[0] == 64\n"
                      "fix: one graph per batch size")
    assert repr(p) == str(p)
    assert "File" not in p._repr_html_() and "pitfall" in p._repr_html_()


def test_warnings_are_counted_and_each_distinct_message_shown_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            warnings.warn("torch.ao.quantization is deprecated and will be removed in 2.10.\nmore", DeprecationWarning,
                          stacklevel=1)
        warnings.warn("reduce_range will be   deprecated", UserWarning, stacklevel=1)
    p = checks.pitfall("torch.ao.quantization.quantize_dynamic", caught, "torchao's quantize_")
    assert p.said == ("4 warning(s), 2 distinct:", "reduce_range will be deprecated",
                      "torch.ao.quantization is deprecated and will be removed in 2.10.")


def test_text_is_escaped_and_long_lines_are_cut():
    p = checks.pitfall("<script>", "x" * 500, "use <b>", width=50)
    assert len(p.said[0]) == 50 and p.said[0].endswith("...")
    assert "<script>" not in p._repr_html_() and "&lt;script&gt;" in p._repr_html_()
