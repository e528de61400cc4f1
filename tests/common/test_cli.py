"""The kepler-model dispatcher: commands, exit statuses, one-line errors, image restrictions."""

import io
import json
import subprocess
import sys

from steps import contract
from steps.cli import COMMANDS, main


def run(argv, environ=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, environ=environ or {"CONFIG_PATH": "/nonexistent"}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_unknown_command_is_a_usage_error():
    code, _, err = run(["validate"])
    assert code == 2
    assert (
        err.strip()
        == "kepler-model validate: error: unknown command 'validate'; choose one of query, train, export, run"
    )


def test_no_command_prints_usage_and_exits_2():
    code, _, err = run([])
    assert code == 2 and "usage: kepler-model" in err


def test_an_image_refuses_the_steps_it_does_not_provide():
    code, _, err = run(["train", "--help"], environ={"KEPLER_MODEL_IMAGE_STEPS": "query"})
    assert code == 1
    assert err.strip() == "kepler-model train: error: this image does not provide the 'train' step"


def test_cmd_main_runs_from_a_checkout(repo_root):
    done = subprocess.run(
        [sys.executable, str(repo_root / "cmd" / "main.py"), "--version"], capture_output=True, text=True, cwd="/"
    )
    assert done.returncode == 0 and done.stdout.startswith("kepler-model ")


def test_the_commands_are_the_contracts_steps_then_run():
    """The dispatcher reads its command table from the step contract; `run` is a command, not a step."""
    assert list(COMMANDS) == [s.name for s in contract.STEPS] + ["run"]
    assert contract.LOCAL_RUN not in contract.STEPS and not isinstance(contract.LOCAL_RUN, contract.Step)
    code, out, _ = run(["--help"])
    steps_part, others_part = out.split("other commands:")
    assert code == 0
    for step in contract.STEPS:
        assert f"  {step.name:<7} {step.summary}" in steps_part
    assert f"  run     {contract.LOCAL_RUN.summary}" in others_part


def test_the_contract_loads_without_any_steps_code_or_dependency():
    """The CLI and every step image import the contract: the standard library and steps.common.flags only."""
    code = (
        "import sys; import steps.contract; "
        "print(sorted(m for m in sys.modules if m.startswith('steps')))"
        "; bad = [m for m in ('yaml', 'requests', 'numpy', 'pandas', 'kfp') if m in sys.modules]; sys.exit(bool(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    loaded = set(json.loads(done.stdout.replace("'", '"')))
    assert loaded == {
        "steps",
        "steps.common",
        "steps.common.config",
        "steps.common.errors",
        "steps.common.flags",
        "steps.contract",
        "steps.contract.table",
        "steps.contract.vocabulary",
    }
