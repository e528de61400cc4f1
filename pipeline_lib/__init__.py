"""The pipeline compiler: renders the step contract (steps/contract/) into KFP and Argo documents.

- definition.py: the contract plus the facts of one deployment (names, pod security, images);
- kfp_emitter.py: the KFP v2 spec (kfp and kfp-kubernetes are imported there only, lazily);
- argo_emitter.py: the Argo WorkflowTemplate and run file;
- kube_objects.py: plain Kubernetes objects (namespace, claims, RBAC) and the kustomizations.

pipeline.py drives them. This package reads the contract and is read by nothing in steps/: it
is not installed with the package nor copied into a step image (the compiler needs kfp, the
`[pipeline]` extra).
"""
