"""The parts of pipeline.py: the vocabulary of its step table and the emitters that compile it.

- model.py: parameters, claims, mounted Secret/ConfigMap files, steps, and the definition checks;
- kfp_emitter.py: the KFP v2 spec (kfp and kfp-kubernetes are imported there only, lazily);
- argo_emitter.py: the Argo WorkflowTemplate and run file;
- kube_objects.py: plain Kubernetes objects (namespace, claims, RBAC) and the kustomizations.

pipeline.py holds the one step table and hands it to these as a `Definition`; nothing here is
imported by step code or installed in a step image.
"""
