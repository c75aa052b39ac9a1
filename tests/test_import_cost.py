"""`import gcop` must stay cheap: no torch, transformers, trl or litellm until needed."""

import subprocess
import sys


def test_import_gcop_pulls_no_heavy_libraries():
    code = (
        "import sys, gcop, gcop.strategy, gcop.cost; "
        "names = ('torch', 'transformers', 'trl', 'litellm', 'peft'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_resolve_lazily():
    import gcop

    assert gcop.GuideCorePolicy.__name__ == "GuideCorePolicy"
    assert gcop.signatures.MathGuide.__name__ == "MathGuide"
    try:
        gcop.NotAThing  # noqa: B018
    except AttributeError as error:
        assert "NotAThing" in str(error)
    else:
        raise AssertionError("unknown attribute should raise AttributeError")
