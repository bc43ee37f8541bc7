"""The examples in the comparison modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest

from llamaprof import charts
from llamaprof.analyze import compare, kernel_names, overview


@pytest.mark.parametrize("module", [compare, kernel_names, overview, charts])
def test_docstring_examples(module):
    """Every docstring example of the module passes."""
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_comparison_modules_do_not_import_streamlit():
    """compare, overview, kernel_names and charts load without Streamlit."""
    code = (
        "import sys\n"
        "import llamaprof.analyze.compare, llamaprof.analyze.overview\n"
        "import llamaprof.analyze.kernel_names, llamaprof.charts\n"
        "print('streamlit' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
