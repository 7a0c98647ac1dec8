import json
import subprocess
import sys
from pathlib import Path

import pytest

from routesql.config import DPOStageSettings, MCPStepSettings, Params, TrainStageSettings
from routesql.settings_reads import TRACE_ENV, keys_read
from routesql.train.settings import DPOSettings, LoraSettings, SFTSettings


@pytest.mark.parametrize(
    ("reads", "keys"),
    [
        ({(Params, "seed")}, {"seed"}),
        ({(MCPStepSettings, "max_new_tokens")}, {"mcp.max_new_tokens"}),
        # a read on the section's own class, on a base it was built as, on a subclass
        ({(TrainStageSettings, "lr")}, {"train.lr"}),
        ({(SFTSettings, "lr")}, {"train.lr"}),  # tune and train rebuild train as SFTSettings
        ({(DPOSettings, "lr")}, {"dpo.lr"}),
        ({(DPOStageSettings, "beta")}, {"dpo.beta"}),
        # one class under two sections counts for both
        ({(LoraSettings, "r")}, {"train.lora.r", "dpo.lora.r"}),
        (set(), set()),
    ],
)
def test_reads_map_to_params_keys(reads: set, keys: set[str]) -> None:
    assert keys_read(reads, Params) == keys


def test_a_traced_process_writes_the_keys_it_read(tmp_path: Path) -> None:
    script = (
        "from routesql.settings_reads import peek, start_tracing\n"
        "from routesql.config import Params\n"
        "start_tracing('probe', Params)\n"
        "params = Params()\n"
        "params.execution.row_cap, params.model.tiny.vocab_size\n"
        "peek(peek(params, 'mcp'), 'steps')\n"  # a check, not a use: not recorded
        "from routesql.settings_reads import untraced\n"
        "with untraced():\n"
        "    params.seed\n"
        # modules that take their defaults from Params() when they load record nothing
        "import routesql.mcp.settings, routesql.evaluate\n"
    )
    subprocess.run([sys.executable, "-c", script], env={TRACE_ENV: str(tmp_path / "reads")}, check=True)
    (written,) = (tmp_path / "reads").glob("probe-*.json")
    record = json.loads(written.read_text())
    assert record["command"] == "probe"
    assert set(record["keys"]) == {"execution", "execution.row_cap", "model", "model.tiny", "model.tiny.vocab_size"}


def test_untraced_process_writes_nothing(tmp_path: Path) -> None:
    script = "from routesql.config import Params\nfrom routesql.settings_reads import start_tracing\nstart_tracing('probe', Params)\n"
    subprocess.run([sys.executable, "-c", script], env={"HOME": str(tmp_path)}, check=True, cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []
