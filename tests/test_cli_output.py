"""A stage prints its own lines and progress bars: the libraries' tips and deprecation notices are
silenced unless --verbose (checked in a fresh interpreter, as each `routesql` command starts)."""

from __future__ import annotations

import subprocess
import sys

import pytest

EMIT = """
import warnings
{setup}
from pytorch_lightning.utilities.rank_zero import rank_zero_info
rank_zero_info("Tip: For seamless cloud logging, try installing litlogger")
warnings.warn("`past_key_values` is deprecated and will be removed in version 5.40.0", FutureWarning)
warnings.warn("an unrelated FutureWarning the user should see", FutureWarning)
import logging
logging.basicConfig(level=logging.WARNING)
logging.getLogger("mlflow.pyfunc").warning("Passing a Python object as `python_model` causes it to be serialized")
"""


@pytest.mark.parametrize(
    ("setup", "shown", "hidden"),
    [
        (
            "from routesql.cli import quiet_libraries; quiet_libraries()",
            ["unrelated"],
            ["Tip:", "past_key_values", "python_model"],
        ),
        (
            "",
            ["unrelated", "Tip:", "past_key_values", "python_model"],
            [],
        ),  # --verbose: everything, as the libraries print it
    ],
)
def test_library_notices_are_quiet_unless_verbose(setup: str, shown: list[str], hidden: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", EMIT.format(setup=setup)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert all(word in output for word in shown), output
    assert not any(word in output for word in hidden), output
