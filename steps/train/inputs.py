"""One input's extraction, by the generation of its metrics: 0.6/0.7 (extract.py) or 0.10 on (extract_010.py).

Kept apart from both so that the 0.10 extraction can build on the 0.7 one's readers without an
import circle.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from .extract import DEFAULT_VM_JOB_NAME, InputData, Warn, extract_pre_010, resolve_generation
from .extract_010 import extract_010


def _no_warn(_: str) -> None:
    return None


def extract_input(
    name: str,
    response: Mapping[str, list],
    sources: Sequence[str],
    generation: str = "auto",
    thirdparty: Sequence[str] = (),
    vm: bool = False,
    vm_job_name: str = DEFAULT_VM_JOB_NAME,
    warn: Optional[Warn] = None,
) -> InputData:
    """Flatten and validate one input (step 3 of train.md §2) into columns."""
    gen = resolve_generation(name, response, generation)
    extract = extract_010 if gen.zone_energy is not None else extract_pre_010
    return extract(name, response, gen, sources, thirdparty, vm, vm_job_name, warn or _no_warn)
