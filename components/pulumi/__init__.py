"""Layer 3: thin Pulumi components over what ``components.render`` produced; no business logic.

``cluster`` (VPC, EKS, node pools), ``node_pool``, ``irsa``, ``helm_addon`` (one uniform add-on
unit), ``platform`` (add-ons and platform objects), ``model_serving`` (the catalog's objects),
``kube_resources`` (one rendered object -> one Pulumi resource) and ``engine_config`` (the running
stack's settings). Only this package and ``infra/`` import ``pulumi``.
"""
