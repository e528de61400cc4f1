"""Label sets copied in shape from a real Kepler 0.7 scrape (idle.json), and the series sort order."""

from __future__ import annotations

import hashlib
from typing import Dict, Mapping, Optional

from ..common.workspace import series_order_key as label_sort_key  # noqa: F401 - the query JSON's order


def container_id(seed: int, pod_name: str, container_name: str) -> str:
    """A stable 64-hex container id, like containerd's."""
    return hashlib.sha256(f"synth/{seed}/{pod_name}/{container_name}".encode()).hexdigest()


def exporter_pod(seed: int, node_name: str) -> str:
    """The name of the Kepler DaemonSet pod that scraped the node (label `pod`)."""
    suffix = hashlib.sha256(f"kepler/{seed}/{node_name}".encode()).hexdigest()[:5]
    return f"kepler-exporter-{suffix}"


def scrape_labels(job: str, node_name: str, pod: str) -> Dict[str, str]:
    """Labels Prometheus' Kubernetes service discovery adds to every Kepler series."""
    return {
        "container": "kepler-exporter",
        "endpoint": "http",
        "instance": node_name,
        "job": job,
        "namespace": "kepler",
        "pod": pod,
        "service": "kepler-exporter",
    }


def _sorted(labels: Mapping[str, str]) -> Dict[str, str]:
    """Keys in name order, as Prometheus returns them (`__name__` first)."""
    return dict(sorted(labels.items()))


def container_labels(
    metric: str, scrape: Mapping[str, str], cid: str, pod_name: str, container_name: str, namespace: str
) -> Dict[str, str]:
    """Labels of a container usage counter, as Kepler 0.7 exports them."""
    return _sorted(
        {
            "__name__": metric,
            **scrape,
            "container_id": cid,
            "container_name": container_name,
            "container_namespace": namespace,
            "pod_name": pod_name,
        }
    )


def energy_labels(
    metric: str, scrape: Mapping[str, str], node_name: str, source: str, mode: str, package: Optional[str]
) -> Dict[str, str]:
    """Labels of a node energy counter; `package` only for the per-package components."""
    labels = {"__name__": metric, **scrape, "exported_instance": node_name, "mode": mode, "source": source}
    if package is not None:
        labels["package"] = package
    return _sorted(labels)


def node_info_labels(metric: str, scrape: Mapping[str, str]) -> Dict[str, str]:
    """Labels of the node-info gauge."""
    return _sorted({"__name__": metric, **scrape, "cpu_architecture": "Broadwell"})


def thirdparty_labels(metric: str, node_name: str) -> Dict[str, str]:
    """A node-exporter style gauge: no container labels, so train treats it as a gauge feature."""
    return _sorted({"__name__": metric, "instance": node_name, "job": "node-exporter"})
