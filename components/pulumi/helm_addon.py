"""One Helm add-on: a ``helm.v3.Release`` of a release that ``render.addons`` produced."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.render.addons import HelmRelease

# Charts that install CRDs and webhooks and wait for their pods can take a while on a fresh
# cluster (nodes scaling up, images pulling).
RELEASE_TIMEOUT_SECONDS = 900


@dataclass(frozen=True, kw_only=True)
class HelmAddonArgs:
    release: HelmRelease


class HelmAddon(pulumi.ComponentResource):
    """Every add-on has this one shape: chart and version from the pins, values rendered offline."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: HelmAddonArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("modelplane:addons:HelmAddon", name, None, opts)
        spec = args.release
        chart = spec.chart
        self.release = k8s.helm.v3.Release(
            name,
            name=spec.name,
            namespace=spec.namespace,
            chart=chart.chart,
            version=chart.version,
            repository_opts={"repo": chart.repository} if chart.repository else None,
            values=spec.values,
            # Namespaces are modelplane's own objects, with the labels the mesh needs.
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT_SECONDS,
            # The release itself must wait for what the add-on waits for.
            opts=pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None),
        )
        self.register_outputs({"status": self.release.status})
