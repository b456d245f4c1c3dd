"""modelplane: a shared, GPU-ready KServe inference platform on EKS, as Pulumi components.

Layers, imported in one direction only:

* ``components.catalog`` (pure): ``models/`` YAML and stack settings -> validated, frozen objects.
* ``components.render`` (pure): validated objects -> plain Kubernetes dicts, Helm pins and values,
  the AWS shape.
* the Pulumi components (``components.cluster``, ``components.model_serving`` ...): thin wrappers
  that turn what ``render`` produced into resources.

This package ``__init__`` must stay free of ``pulumi`` imports so the offline CLI never needs it.
"""
