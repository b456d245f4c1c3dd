"""modelplane: a shared, GPU-ready KServe inference platform on EKS, as Pulumi components.

Layers, imported in one direction only (``tests/test_layers.py`` checks it):

* ``components.catalog`` (layer 1, pure): ``models/`` YAML and stack settings -> validated, frozen
  objects.
* ``components.render`` (layer 2, pure): validated objects -> plain Kubernetes dicts, Helm pins and
  values, the AWS shape, IAM documents.
* ``components.review`` and ``components.cli`` (offline, pure): plan, diff, cost, capacity, the
  pull-request review, and the ``modelplane`` command with its input reading.
* ``components.pulumi`` (layer 3, thin): Pulumi components that turn what ``render`` produced into
  resources.

``pins`` (every version) and ``platform_names`` (names every layer shares) are leaf modules. This
package ``__init__`` must stay free of ``pulumi`` imports so the offline CLI never needs it.
"""
