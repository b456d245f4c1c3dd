"""KServe's merge of a ClusterServingRuntime's container with an InferenceService's
``predictor.model`` container, reproduced for contract tests.

Upstream, kserve/kserve @ v0.20.0:
  pkg/controller/v1beta1/inferenceservice/utils/utils.go:253-264  MergeRuntimeContainers
      (strategic merge, then ``Args = runtime args + isvc args``, utils.go:260)
  pkg/utils/container_merge.go:32-63                              MergeContainerWithPatch
      (json.Marshal both, strategicpatch.StrategicMergePatch(base=runtime, patch=isvc),
       reconcileEnvValueConflicts :65-89, name restored from the base :58-60)
  k8s.io/apimachinery v0.34.5 pkg/util/strategicpatch/patch.go    list merge and order
  k8s.io/api v0.34.5 core/v1/types.go (type Container :2892)      patch tags of the fields

Checked against ``kubectl patch --local --type strategic`` on 60 random env/ports/resources cases.
Quantities are not canonicalised (Go writes "1000m" as "1"); compare them by value.
"""

from __future__ import annotations

import copy
from typing import Any

# Lists of corev1.Container that a strategic merge patch merges by key (patchStrategy merge);
# every other list (args, command, envFrom, capabilities, ...) is atomic: the patch replaces it.
CONTAINER_MERGE_KEYS: dict[str, str] = {
    "ports": "containerPort",  # types.go:2944
    "env": "name",  # types.go:2961
    "volumeMounts": "mountPath",  # types.go:3012
    "volumeDevices": "devicePath",
}


def _merge_keyed_list(original: list[dict], patch: list[dict], key: str) -> list[dict]:
    """mergeSlice + normalizeElementOrder + mergeSortedSlice (patch.go:404-470, 1495-1640)."""
    merged = [copy.deepcopy(item) for item in original]
    for item in patch:
        for index, existing in enumerate(merged):
            if existing.get(key) == item.get(key):
                merged[index] = _merge_map(existing, item, {})
                break
        else:
            merged.append(copy.deepcopy(item))
    patch_keys = [item.get(key) for item in patch]
    patch_items = sorted(
        (item for item in merged if item.get(key) in patch_keys), key=lambda item: patch_keys.index(item.get(key))
    )
    server_only = [item for item in merged if item.get(key) not in patch_keys]
    server_order = [item.get(key) for item in original]

    def position(item: dict) -> int:
        value = item.get(key)
        return server_order.index(value) if value in server_order else -1

    out: list[dict] = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if i >= len(server_only):
            out.append(patch_items[j])
            j += 1
        elif j >= len(patch_items):
            out.append(server_only[i])
            i += 1
        else:
            left, right = position(server_only[i]), position(patch_items[j])
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patch_items[j])
                j += 1
    return out


def _merge_map(original: dict, patch: dict, merge_keys: dict[str, str]) -> dict:
    out = copy.deepcopy(original)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif key in merge_keys and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = _merge_keyed_list(out[key], value, merge_keys[key])
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_map(out[key], value, {})
        else:
            out[key] = copy.deepcopy(value)
    return out


def _go_marshal_container(container: dict) -> dict:
    """json.Marshal(corev1.Container): ``name`` has no omitempty, ``resources`` is a struct
    (always written); every other field is omitempty, so empty values vanish."""
    out = {key: value for key, value in container.items() if value not in (None, "", [], {}, False)}
    out["name"] = container.get("name", "")
    out.setdefault("resources", {})
    if isinstance(out["resources"], dict):
        out["resources"] = {key: value for key, value in out["resources"].items() if value not in (None, {}, [])}
    return out


def merge_runtime_container(runtime: dict[str, Any], isvc: dict[str, Any]) -> dict[str, Any]:
    """The container KServe v0.20.0 runs: ``MergeRuntimeContainers(runtime, isvc)``."""
    base = _go_marshal_container(runtime)
    overlay = _go_marshal_container(isvc)
    merged = _merge_map(base, overlay, CONTAINER_MERGE_KEYS)
    overlay_env = {env["name"]: env for env in overlay.get("env", [])}
    for env in merged.get("env", []):
        if env.get("value") and env.get("valueFrom") and env["name"] in overlay_env:
            if overlay_env[env["name"]].get("valueFrom"):
                env.pop("value")
            elif overlay_env[env["name"]].get("value"):
                env.pop("valueFrom")
    if not merged.get("name"):
        merged["name"] = runtime.get("name", "")
    args = list(runtime.get("args") or []) + list(isvc.get("args") or [])
    if args:
        merged["args"] = args
    else:
        merged.pop("args", None)
    return merged
