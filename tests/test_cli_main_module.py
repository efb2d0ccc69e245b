"""``python -m symnorm`` reports everyday mistakes as the console script does: one line,
exit status 2, no traceback (a subcommand once raised a second copy of CLIError there)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("args", [["export-onnx", "nosuch", "0"], ["import-onnx", "nosuch.onnx", "-o", "x"],
                                  ["summary", "nosuch"], ["predict", "nosuch", "0", "--input", "x.npy"]])
def test_python_m_symnorm_reports_mistakes_in_one_line(args, tmp_path):
    out = subprocess.run([sys.executable, "-m", "symnorm"] + args, capture_output=True, text=True,
                         cwd=tmp_path, env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and out.stderr.startswith("symnorm: error:"), out.stderr
