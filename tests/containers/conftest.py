"""A real Docker engine for the container tests: started for the session, step images built, stopped at the end.

scripts/docker_engine.sh starts Debian's dockerd (no bridge: everything uses --network host) and
scripts/base_image.sh imports a debootstrapped base image, because no registry is reachable here.
The images are built from images/Dockerfile, once per step of the contract (`--build-arg STEP=<step>`),
with BASE_IMAGE pointing at that local base, and tagged with the exact names the compiled pipeline
uses, so `docker run` runs what a cluster would.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from steps import contract

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"
BASE_IMAGE = "kepler-model-base:local"
STEPS = tuple(step.name for step in contract.STEPS)
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_CA_COPY = REPO_ROOT / "images" / "shared" / "ca-certificates.crt"  # git-ignored


def docker_client() -> str:
    """Debian's client matches Debian's engine and builds without buildx (the other one cannot)."""
    chosen = os.environ.get("DOCKER_CLIENT") or ("/usr/bin/docker" if Path("/usr/bin/docker").exists() else "")
    return chosen or shutil.which("docker") or "docker"


@dataclass
class Docker:
    """The docker client bound to the test engine."""

    client: str
    host: str

    def env(self) -> Dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.host, DOCKER_BUILDKIT="0", DOCKER_CLIENT=self.client)

    def run(self, *args: str, timeout: float = 600, check: bool = False) -> subprocess.CompletedProcess:
        done = subprocess.run([self.client, *args], env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args[:3])}... failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done


def _script(name: str, *args: str, env: Optional[Dict[str, str]] = None, timeout: float = 900) -> str:
    done = subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=timeout,
    )
    if done.returncode != 0:
        pytest.fail(
            f"scripts/{name} {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}", pytrace=False
        )
    return done.stdout


@pytest.fixture(scope="session")
def docker() -> Docker:
    """Start the engine (scripts/docker_engine.sh) for this session and stop it by its PID afterwards."""
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is not installed (apt-get install docker.io debootstrap)", pytrace=False)
    client = docker_client()
    env = dict(os.environ, DOCKER_CLIENT=client)
    out = _script("docker_engine.sh", "start", env=env, timeout=120)
    host = next(line.split("=", 1)[1] for line in out.splitlines() if line.startswith("DOCKER_HOST="))
    try:
        yield Docker(client, host)
    finally:
        _script("docker_engine.sh", "stop", env=env, timeout=120)


def index_build_args() -> List[str]:
    """The host's package index as build arguments, when it is an http(s) index (file:// cannot reach a build)."""
    values = {k: os.environ.get(k, "") for k in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    parser = configparser.ConfigParser()
    parser.read(
        [
            p
            for p in (
                "/etc/pip.conf",
                os.path.expanduser("~/.config/pip/pip.conf"),
                os.path.expanduser("~/.pip/pip.conf"),
            )
            if os.path.exists(p)
        ]
    )
    for key, option in (("PIP_INDEX_URL", "index-url"), ("PIP_EXTRA_INDEX_URL", "extra-index-url")):
        if not values[key] and parser.has_option("global", option):
            values[key] = parser.get("global", option)
    args = []
    for key, value in values.items():
        urls = " ".join(u for u in value.split() if u.startswith(("http://", "https://")))
        if urls:
            args += ["--build-arg", f"{key}={urls}"]
    return args


@dataclass
class BuiltImages:
    names: Dict[str, str]  # step -> image name used by the compiled pipeline
    sizes: Dict[str, int]  # step -> bytes (docker image inspect .Size)
    build_seconds: Dict[str, float]


@pytest.fixture(scope="session")
def step_images(docker: Docker, pipeline_images: Dict[str, str]) -> BuiltImages:
    """Base image (cached in the engine's data root), then the three step images."""
    started = time.monotonic()
    _script("base_image.sh", BASE_IMAGE, env=docker.env(), timeout=900)
    seconds = {"base": time.monotonic() - started}
    copied = False
    if HOST_CA_BUNDLE.is_file() and not BUILD_CA_COPY.exists():
        shutil.copyfile(HOST_CA_BUNDLE, BUILD_CA_COPY)  # trusted by pip inside the build only
        copied = True
    try:
        for step in STEPS:
            started = time.monotonic()
            docker.run(
                "build",
                "--network",
                "host",
                "--build-arg",
                f"BASE_IMAGE={BASE_IMAGE}",
                "--build-arg",
                f"{contract.IMAGE_STEP_ARG}={step}",
                *index_build_args(),
                "-f",
                str(REPO_ROOT / contract.DOCKERFILE),
                "-t",
                pipeline_images[step],
                "-t",
                f"kepler-model-{step}:test",
                str(REPO_ROOT),
                timeout=1200,
                check=True,
            )
            seconds[step] = time.monotonic() - started
    finally:
        if copied:
            BUILD_CA_COPY.unlink()
    sizes = {
        step: int(docker.run("image", "inspect", "-f", "{{.Size}}", pipeline_images[step], check=True).stdout)
        for step in STEPS
    }
    return BuiltImages(dict(pipeline_images), sizes, seconds)


@pytest.fixture(scope="session")
def pipeline_images() -> Dict[str, str]:
    """The image names in the committed KFP spec (what a cluster would pull)."""
    import yaml

    spec = next(yaml.safe_load_all((REPO_ROOT / "manifests" / "kfp" / "kepler-model-pipeline.yaml").read_text()))
    return {step: spec["deploymentSpec"]["executors"][f"exec-{step}"]["container"]["image"] for step in STEPS}
