"""The `--generation 0.10` flags of `python -m steps.synth`: a Kepler 0.10 node or VM host (with guests)."""

from __future__ import annotations

import argparse
from typing import List

from ..common.timefmt import parse_window_time
from .config010 import DEFAULT_ZONES, RAPL_RANGE_J, Kepler010Config
from .kepler010 import Kepler010Data

# dest -> flag of the flags only one generation reads (the other refuses them when changed)
ONLY_07 = {
    "packages": "--packages",
    "sources": "--sources",
    "reset": "--reset",
    "gap": "--gap",
    "thirdparty": "--thirdparty",
}
ONLY_010 = {
    "vms": "--vms",
    "vcpus": "--vcpus",
    "zones": "--zones",
    "sockets": "--sockets",
    "no_aggregate": "--no-aggregate",
    "wrap_joules": "--wrap-joules",
    "cpus": "--cpus",
    "processes_per_container": "--processes-per-container",
    "container_metric": "--container-metric",
    "no_process_energy": "--no-process-energy",
    "exporter_restart": "--exporter-restart",
    "guest_offset": "--guest-offset",
    "guest_missing": "--guest-missing",
    "guests_openmetrics": "--guests-openmetrics",
    "guests_query_json": "--guests-query-json",
    "vm_map": "--vm-map",
    "kepler_version": "--kepler-version",
}


def _missing(text: str):
    try:
        vm, offset = text.split(":")
        return int(vm), float(offset)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected VM:OFFSET (VM index, host offset in seconds), got {text!r}"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the 0.10-only flags (in their own help group)."""
    group = parser.add_argument_group("Kepler 0.10 (with --generation 0.10)")
    group.add_argument("--vms", type=int, default=0, help="VMs on the host; > 0 adds guest node_exporter series")
    group.add_argument("--vcpus", type=int, default=2, help="vCPUs per VM (default 2)")
    group.add_argument(
        "--zones",
        default=",".join(DEFAULT_ZONES),
        help=f"RAPL zones, comma list (default {','.join(DEFAULT_ZONES)}; psys optional)",
    )
    group.add_argument("--sockets", type=int, default=1, help="CPU sockets (default 1)")
    group.add_argument("--no-aggregate", action="store_true", help="one series per socket instead of aggregated-<zone>")
    group.add_argument(
        "--wrap-joules",
        type=float,
        default=RAPL_RANGE_J,
        help=f"RAPL range per socket zone, J (default {RAPL_RANGE_J})",
    )
    group.add_argument("--cpus", type=int, default=0, help="logical CPUs of the host (default: sized to the load)")
    group.add_argument("--processes-per-container", type=int, default=2, help="processes per container (default 2)")
    group.add_argument("--container-metric", action="store_true", help="add kepler_container_cpu_seconds_total")
    group.add_argument("--no-process-energy", action="store_true", help="no kepler_process_cpu_joules_total but QEMU's")
    group.add_argument(
        "--exporter-restart",
        type=float,
        action="append",
        default=[],
        metavar="OFFSET",
        help="Kepler restart (repeatable)",
    )
    group.add_argument("--guest-offset", type=float, default=4.0, help="guest scrape - host scrape, s (default 4)")
    group.add_argument(
        "--guest-missing",
        type=_missing,
        action="append",
        default=[],
        metavar="VM:OFFSET",
        help="guest VM has no sample for the host scrape at OFFSET s (repeatable)",
    )
    group.add_argument("--guests-openmetrics", metavar="FILE", help="guest series here, host series in --openmetrics")
    group.add_argument("--guests-query-json", metavar="FILE", help="guest series here, host series in --query-json")
    group.add_argument("--vm-map", metavar="FILE", help="write the guest instance -> vm_id JSON object here")
    group.add_argument("--kepler-version", default="v0.10.2", help="kepler_build_info version (default v0.10.2)")


def changed(parser: argparse.ArgumentParser, args: argparse.Namespace, flags: dict) -> List[str]:
    """The flags among `flags` whose value differs from their default."""
    return [flag for dest, flag in flags.items() if getattr(args, dest) != parser.get_default(dest)]


def config_from_args(args: argparse.Namespace) -> Kepler010Config:
    """The Kepler010Config the parsed flags describe."""
    return Kepler010Config(
        containers=args.containers,
        processes_per_container=args.processes_per_container,
        vms=args.vms,
        vcpus=args.vcpus,
        duration_s=args.duration,
        step_s=args.step,
        start=parse_window_time(args.start, "--start"),
        seed=args.seed,
        power=args.power,
        noise_w=args.noise,
        zones=tuple(z.strip() for z in args.zones.split(",") if z.strip()),
        sockets=args.sockets,
        aggregate=not args.no_aggregate,
        wrap_j=args.wrap_joules,
        cpus=args.cpus,
        container_metric=args.container_metric,
        process_energy=not args.no_process_energy,
        exporter_restarts=tuple(args.exporter_restart),
        guest_offset_s=args.guest_offset,
        guest_missing=tuple(args.guest_missing),
        node_name=args.node_name,
        benchmark=args.benchmark,
        kepler_version=args.kepler_version,
    )


def write_outputs(data: Kepler010Data, args: argparse.Namespace) -> List[str]:
    """Write the files asked for; guests go to their own files when --guests-* is given."""
    written = []
    for main, guests, write in (
        (args.openmetrics, args.guests_openmetrics, data.write_openmetrics),
        (args.query_json, args.guests_query_json, data.write_query_response),
    ):
        if main:
            written.append(str(write(main, part="host" if guests else "all")))
        if guests:
            written.append(str(write(guests, part="guests")))
    if args.vm_map:
        written.append(str(data.write_vm_map(args.vm_map)))
    return written
