"""Contract: the MIG geometries the layout checker and the planner use are NVIDIA's.

Pinned from NVIDIA/mig-parted at v0.15.0 (the mig-manager the pinned GPU operator v26.7.0 runs):
- ``deployments/systemd/config-default.yaml``: the layouts NVIDIA ships for each GPU (selected by
  PCI device id): ``all-<profile>`` cuts a GPU into as many instances of one profile as fit, and
  ``all-balanced`` is a mixed layout;
- ``vendor/github.com/NVIDIA/go-nvml/pkg/nvml/mock/gpus/a100.go`` (go-nvml's model of an A100, as
  ``nvidia-smi mig -lgip`` / ``-lgipp`` print it): instances per GPU of each profile (lines 83-267)
  and where each may start, in memory slices (lines 486-526).
The placements of go-nvml's H100 mock (``h100.go:249-291``) are not pinned: they give 3g and 7g
sizes in compute slices (3, 7) where its A100 mock and the MIG user guide count memory slices (4, 8).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from components.catalog.hardware import GPU_MODELS, mig_layout_problem
from components.review.mig_layouts import maximal_layouts

# config-default.yaml @ v0.15.0: the entry of each config that applies to the GPU's device id
# (A100-SXM4-40GB 0x20B010DE, A100-SXM4-80GB 0x20B210DE, H100-SXM5-80GB 0x233010DE, H200 0x233510DE;
# lines 105-119 and 358-375 filter by id, the others apply to every GPU that has the profile).
DEVICE_IDS = {"A100-40GB": "0x20B010DE", "A100-80GB": "0x20B210DE", "H100-80GB": "0x233010DE", "H200-141GB": "0x233510DE"}
NVIDIA_DEFAULT_LAYOUTS = {
    "A100-40GB": {
        "all-1g.5gb": {"1g.5gb": 7}, "all-1g.5gb.me": {"1g.5gb+me": 1}, "all-2g.10gb": {"2g.10gb": 3},
        "all-3g.20gb": {"3g.20gb": 2}, "all-4g.20gb": {"4g.20gb": 1}, "all-7g.40gb": {"7g.40gb": 1},
        "all-1g.10gb": {"1g.10gb": 4}, "all-balanced": {"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1},
    },
    "A100-80GB": {
        "all-1g.10gb": {"1g.10gb": 7}, "all-1g.10gb.me": {"1g.10gb+me": 1}, "all-1g.20gb": {"1g.20gb": 4},
        "all-2g.20gb": {"2g.20gb": 3}, "all-3g.40gb": {"3g.40gb": 2}, "all-4g.40gb": {"4g.40gb": 1},
        "all-7g.80gb": {"7g.80gb": 1}, "all-balanced": {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1},
    },
    "H200-141GB": {
        "all-balanced": {"1g.18gb": 2, "2g.35gb": 1, "3g.71gb": 1}, "all-1g.18gb": {"1g.18gb": 7},
        "all-1g.18gb.me": {"1g.18gb+me": 1}, "all-1g.35gb": {"1g.35gb": 4}, "all-2g.35gb": {"2g.35gb": 3},
        "all-3g.71gb": {"3g.71gb": 2}, "all-4g.71gb": {"4g.71gb": 1}, "all-7g.141gb": {"7g.141gb": 1},
    },
}
# The H100-80GB entries are the A100-80GB ones: the same filters and profile names.
NVIDIA_DEFAULT_LAYOUTS["H100-80GB"] = dict(NVIDIA_DEFAULT_LAYOUTS["A100-80GB"])

# a100.go @ mig-parted v0.15.0 (go-nvml mock): GpuInstancePlacements, {profile: (starts, size)},
# the profile names as nvidia-smi prints them for the 40GB and the 80GB A100.
GO_NVML_A100_PLACEMENTS = {
    "1_SLICE": ((0, 1, 2, 3, 4, 5, 6), 1),
    "1_SLICE_REV1": ((0, 1, 2, 3, 4, 5, 6), 1),  # +me
    "1_SLICE_REV2": ((0, 2, 4, 6), 2),
    "2_SLICE": ((0, 2, 4), 2),
    "3_SLICE": ((0, 4), 4),
    "4_SLICE": ((0,), 4),
    "7_SLICE": ((0,), 8),
}
GO_NVML_A100_INSTANCE_COUNTS = {
    "1_SLICE": 7, "1_SLICE_REV1": 1, "1_SLICE_REV2": 4, "2_SLICE": 3, "3_SLICE": 2, "4_SLICE": 1, "7_SLICE": 1,
}
A100_PROFILE_NAMES = {
    "A100-40GB": {"1_SLICE": "1g.5gb", "1_SLICE_REV1": "1g.5gb+me", "1_SLICE_REV2": "1g.10gb", "2_SLICE": "2g.10gb",
                  "3_SLICE": "3g.20gb", "4_SLICE": "4g.20gb", "7_SLICE": "7g.40gb"},
    "A100-80GB": {"1_SLICE": "1g.10gb", "1_SLICE_REV1": "1g.10gb+me", "1_SLICE_REV2": "1g.20gb", "2_SLICE": "2g.20gb",
                  "3_SLICE": "3g.40gb", "4_SLICE": "4g.40gb", "7_SLICE": "7g.80gb"},
}


@pytest.mark.parametrize("gpu_name", sorted(NVIDIA_DEFAULT_LAYOUTS))
def test_nvidia_default_layouts_are_valid_and_maximal(gpu_name):
    gpu = GPU_MODELS[gpu_name]
    for config, layout in NVIDIA_DEFAULT_LAYOUTS[gpu_name].items():
        assert mig_layout_problem(gpu, layout) is None, config
        # Each fills its GPU: the planner proposes it when the demand has just these profiles.
        assert tuple(sorted(layout.items())) in maximal_layouts(gpu, tuple(sorted(layout))), config


@pytest.mark.parametrize("gpu_name", sorted(NVIDIA_DEFAULT_LAYOUTS))
def test_every_profile_has_nvidia_maximum(gpu_name):
    """Each profile of the table has an ``all-<profile>`` config, and its count is our maximum."""
    gpu = GPU_MODELS[gpu_name]
    single = {name: count for layout in NVIDIA_DEFAULT_LAYOUTS[gpu_name].values() if len(layout) == 1
              for name, count in layout.items()}
    assert set(single) == set(gpu.mig_profiles)
    assert {name: p.max_per_gpu for name, p in gpu.mig_profiles.items()} == single


@pytest.mark.parametrize("gpu_name", sorted(A100_PROFILE_NAMES))
def test_placements_are_go_nvml_a100s(gpu_name):
    profiles = GPU_MODELS[gpu_name].mig_profiles
    for nvml_profile, name in A100_PROFILE_NAMES[gpu_name].items():
        starts, size = GO_NVML_A100_PLACEMENTS[nvml_profile]
        assert (profiles[name].starts, profiles[name].memory_slices) == (starts, size), name
        assert profiles[name].max_per_gpu == GO_NVML_A100_INSTANCE_COUNTS[nvml_profile], name


def mig_parted_git() -> Path:
    path = Path(os.environ.get("MODELPLANE_MIG_PARTED_GIT", "/work/.mirror/NVIDIA+mig-parted/repo"))
    if not path.is_dir():
        pytest.skip(f"no NVIDIA/mig-parted mirror at {path} (set MODELPLANE_MIG_PARTED_GIT)")
    return path


def test_the_literal_is_config_default_yaml_at_v0_15_0():
    """Where a mirror of NVIDIA/mig-parted exists, the literal above is read from it again."""
    text = subprocess.run(
        ["git", f"--git-dir={mig_parted_git()}", "show", "v0.15.0:deployments/systemd/config-default.yaml"],
        check=True, capture_output=True, text=True,
    ).stdout
    configs = yaml.safe_load(text)["mig-configs"]
    for gpu_name, device in DEVICE_IDS.items():
        found = {}
        for config, entries in configs.items():
            entry = next((e for e in entries if device.lower() in [d.lower() for d in e.get("device-filter", [])]),
                         next((e for e in entries if "device-filter" not in e), None))
            if entry and entry.get("mig-enabled") and entry.get("mig-devices") and all(
                    name in GPU_MODELS[gpu_name].mig_profiles for name in entry["mig-devices"]):
                found[config] = entry["mig-devices"]
        assert found == NVIDIA_DEFAULT_LAYOUTS[gpu_name], gpu_name
