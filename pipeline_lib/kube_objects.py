"""Plain Kubernetes objects around the pipeline: namespace, claims, RBAC, kustomizations."""

from __future__ import annotations

from typing import List, Sequence

from .definition import Definition

RBAC_API = "rbac.authorization.k8s.io/v1"
# The query step reads the Kubernetes Node named by COLLECT_ID for the machine spec.
NODE_READER = "kepler-model-node-reader"
# KFP runs a pipeline's pods as this ServiceAccount: `pipeline-runner` in the `kubeflow` namespace of a
# standalone install; in multi-user Kubeflow it is `default-editor` of the profile's namespace.
KFP_SERVICE_ACCOUNT = "pipeline-runner"
KFP_NAMESPACE = "kubeflow"


def labels() -> dict:
    """The labels of every object the compiler writes."""
    return {"app.kubernetes.io/name": "kepler-model-pipeline", "app.kubernetes.io/part-of": "kepler-model"}


def node_reader_role() -> dict:
    """`get` on nodes, cluster-wide (Nodes are not namespaced): nothing else."""
    return {
        "apiVersion": RBAC_API,
        "kind": "ClusterRole",
        "metadata": {"name": NODE_READER, "labels": labels()},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
    }


def node_reader_binding(name: str, service_account: str, namespace: str) -> dict:
    """Binds the Node reader role to a ServiceAccount."""
    return {
        "apiVersion": RBAC_API,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": labels()},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NODE_READER},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


def argo_rbac(d: Definition) -> List[dict]:
    """ServiceAccount + Role + RoleBinding the workflow pods run as (Argo 3.4+ executor needs), and Node reads."""
    account = d.service_account
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "labels": labels()}},
        {
            "apiVersion": RBAC_API,
            "kind": "Role",
            "metadata": {"name": account, "labels": labels()},
            "rules": [
                {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]},
                # Executors before Argo 3.4 report through pod annotations.
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "patch"]},
            ],
        },
        {
            "apiVersion": RBAC_API,
            "kind": "RoleBinding",
            "metadata": {"name": account, "labels": labels()},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
            "subjects": [{"kind": "ServiceAccount", "name": account}],
        },
        node_reader_role(),
        node_reader_binding(f"{account}-node-reader", account, d.namespace),
    ]


def kfp_rbac() -> List[dict]:
    """Node reads for the ServiceAccount KFP runs pipelines as (edit the subject for another one)."""
    return [
        node_reader_role(),
        node_reader_binding(f"kepler-model-{KFP_SERVICE_ACCOUNT}-node-reader", KFP_SERVICE_ACCOUNT, KFP_NAMESPACE),
    ]


def namespace(d: Definition) -> dict:
    """The namespace of the Argo install."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": d.namespace, "labels": labels()}}


def claims(d: Definition) -> List[dict]:
    """The two claims under their default names (the parameters' defaults)."""
    defaults = d.defaults()
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": defaults[c.parameter],
                "labels": labels(),
                "annotations": {"kepler-model/purpose": c.description},
            },
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": c.size}}},
        }
        for c in d.claims
    ]


def argo_kustomization(d: Definition) -> dict:
    """The Argo folder's kustomization: its resources and one `images:` entry per step image."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["install.yaml"],
        # Without this fieldSpec kustomize's `images:` leaves WorkflowTemplate containers alone.
        "configurations": ["kustomizeconfig.yaml"],
        "images": [{"name": f"{d.registry.rstrip('/')}/{s.image}", "newTag": d.tag} for s in d.steps],
    }


def argo_kustomize_config() -> dict:
    """Teaches kustomize's `images:` the image fields of (cluster) Workflow templates."""
    return {
        "images": [
            {"path": "spec/templates[]/container/image", "kind": "WorkflowTemplate"},
            {"path": "spec/templates[]/container/image", "kind": "Workflow"},
        ]
    }


def top_kustomization(d: Definition, resources: Sequence[str] = ("namespace.yaml", "pvcs.yaml", "argo")) -> dict:
    """The top kustomization: namespace, claims and the Argo folder, all in the namespace."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": d.namespace,
        "resources": list(resources),
    }
