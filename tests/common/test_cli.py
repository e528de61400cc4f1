"""The kepler-model dispatcher: commands, exit statuses, one-line errors, image restrictions."""

import io
import subprocess
import sys

from steps.cli import main


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
