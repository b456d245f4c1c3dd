"""What the hardware offers: EC2 instance types, their GPUs, and the MIG profiles of each GPU.

Pure data plus the MIG placement check. Sources: the NVIDIA MIG user guide (profiles and their
placements, as ``nvidia-smi mig -lgipp`` prints them) and the EC2 instance type pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

# A MIG-capable GPU has 7 compute slices and 8 memory slices.
MIG_COMPUTE_SLICES = 7
MIG_MEMORY_SLICES = 8


@dataclass(frozen=True)
class MigProfile:
    """One GPU-instance profile: how much of the GPU it takes and where it may start."""

    name: str
    compute_slices: int
    memory_slices: int
    max_per_gpu: int
    # Memory slice indexes an instance of this profile may start at (NVIDIA's placement rules).
    starts: tuple[int, ...]


@dataclass(frozen=True)
class GpuModel:
    name: str
    memory_gib: int
    mig_profiles: Mapping[str, MigProfile]

    @property
    def supports_mig(self) -> bool:
        return bool(self.mig_profiles)


def _profiles(*profiles: MigProfile) -> dict[str, MigProfile]:
    return {profile.name: profile for profile in profiles}


def _mig_family(small: int, medium: int, large: int, full: int) -> dict[str, MigProfile]:
    """The profile family every MIG GPU generation shares, named by its memory sizes in GB.

    ``small`` is the memory of a 1g slice, ``medium`` of a 1g slice with two memory slices (and of
    2g), ``large`` of 3g and 4g, ``full`` of 7g.
    """
    return _profiles(
        MigProfile(f"1g.{small}gb", 1, 1, 7, (0, 1, 2, 3, 4, 5, 6)),
        MigProfile(f"1g.{small}gb+me", 1, 1, 1, (0, 1, 2, 3, 4, 5, 6)),
        MigProfile(f"1g.{medium}gb", 1, 2, 4, (0, 2, 4, 6)),
        MigProfile(f"2g.{medium}gb", 2, 2, 3, (0, 2, 4)),
        MigProfile(f"3g.{large}gb", 3, 4, 2, (0, 4)),
        MigProfile(f"4g.{large}gb", 4, 4, 1, (0,)),
        MigProfile(f"7g.{full}gb", 7, 8, 1, (0,)),
    )


GPU_MODELS: dict[str, GpuModel] = {
    model.name: model
    for model in (
        GpuModel("T4", 16, {}),
        GpuModel("A10G", 24, {}),
        GpuModel("L4", 24, {}),
        GpuModel("L40S", 48, {}),
        GpuModel("A100-40GB", 40, _mig_family(5, 10, 20, 40)),
        GpuModel("A100-80GB", 80, _mig_family(10, 20, 40, 80)),
        GpuModel("H100-80GB", 80, _mig_family(10, 20, 40, 80)),
        GpuModel("H200-141GB", 141, _mig_family(18, 35, 71, 141)),
    )
}

ALL_MIG_PROFILES: frozenset[str] = frozenset(
    name for model in GPU_MODELS.values() for name in model.mig_profiles
)


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    memory_gib: int
    gpu_model: str | None = None
    gpu_count: int = 0


def _instances(*rows: tuple) -> dict[str, InstanceType]:
    return {row[0]: InstanceType(*row) for row in rows}


INSTANCE_TYPES: dict[str, InstanceType] = _instances(
    # General purpose (system and CPU model pools).
    ("m6i.large", 2, 8),
    ("m6i.xlarge", 4, 16),
    ("m6i.2xlarge", 8, 32),
    ("m6i.4xlarge", 16, 64),
    ("m6i.8xlarge", 32, 128),
    ("m7i.large", 2, 8),
    ("m7i.xlarge", 4, 16),
    ("m7i.2xlarge", 8, 32),
    ("m7i.4xlarge", 16, 64),
    ("m7i.8xlarge", 32, 128),
    ("c6i.xlarge", 4, 8),
    ("c6i.2xlarge", 8, 16),
    ("c6i.4xlarge", 16, 32),
    ("r6i.xlarge", 4, 32),
    ("r6i.2xlarge", 8, 64),
    # NVIDIA T4.
    ("g4dn.xlarge", 4, 16, "T4", 1),
    ("g4dn.2xlarge", 8, 32, "T4", 1),
    ("g4dn.12xlarge", 48, 192, "T4", 4),
    # NVIDIA A10G.
    ("g5.xlarge", 4, 16, "A10G", 1),
    ("g5.2xlarge", 8, 32, "A10G", 1),
    ("g5.4xlarge", 16, 64, "A10G", 1),
    ("g5.8xlarge", 32, 128, "A10G", 1),
    ("g5.12xlarge", 48, 192, "A10G", 4),
    ("g5.24xlarge", 96, 384, "A10G", 4),
    ("g5.48xlarge", 192, 768, "A10G", 8),
    # NVIDIA L4.
    ("g6.xlarge", 4, 16, "L4", 1),
    ("g6.2xlarge", 8, 32, "L4", 1),
    ("g6.4xlarge", 16, 64, "L4", 1),
    ("g6.12xlarge", 48, 192, "L4", 4),
    ("g6.48xlarge", 192, 768, "L4", 8),
    # NVIDIA L40S.
    ("g6e.xlarge", 4, 32, "L40S", 1),
    ("g6e.2xlarge", 8, 64, "L40S", 1),
    ("g6e.12xlarge", 48, 384, "L40S", 4),
    ("g6e.48xlarge", 192, 1536, "L40S", 8),
    # MIG-capable data-centre GPUs, eight per instance.
    ("p4d.24xlarge", 96, 1152, "A100-40GB", 8),
    ("p4de.24xlarge", 96, 1152, "A100-80GB", 8),
    ("p5.48xlarge", 192, 2048, "H100-80GB", 8),
    ("p5e.48xlarge", 192, 2048, "H200-141GB", 8),
    ("p5en.48xlarge", 192, 2048, "H200-141GB", 8),
)


def mig_layout_problem(gpu_model: GpuModel, layout: Mapping[str, int]) -> str | None:
    """Why ``layout`` (profile -> instances per GPU) cannot be cut from one GPU, or ``None``.

    Checks the profile names, the per-profile maximum, the 7 compute slices, and NVIDIA's
    placement rules (each instance starts at an allowed memory slice and instances do not overlap).
    """
    unknown = sorted(name for name in layout if name not in gpu_model.mig_profiles)
    if unknown:
        offered = ", ".join(gpu_model.mig_profiles)
        return f"{gpu_model.name} has no MIG profile {', '.join(unknown)} (it offers {offered})"
    for name, count in sorted(layout.items()):
        profile = gpu_model.mig_profiles[name]
        if count > profile.max_per_gpu:
            return f"{name} fits at most {profile.max_per_gpu} times on one {gpu_model.name}"
    compute = sum(gpu_model.mig_profiles[name].compute_slices * n for name, n in layout.items())
    if compute > MIG_COMPUTE_SLICES:
        return (
            f"the layout uses {compute} compute slices and one {gpu_model.name} has "
            f"{MIG_COMPUTE_SLICES}"
        )
    if not _placeable(gpu_model.name, tuple(sorted(layout.items()))):
        return (
            f"NVIDIA's placement rules do not allow this combination on one {gpu_model.name}; "
            "choose a combination from the MIG user guide's table of supported profiles"
        )
    return None


@lru_cache(maxsize=None)
def _placeable(gpu_model_name: str, layout: tuple[tuple[str, int], ...]) -> bool:
    profiles = GPU_MODELS[gpu_model_name].mig_profiles
    # Place the largest instances first: they have the fewest allowed starts.
    wanted = sorted(
        (profiles[name] for name, count in layout for _ in range(count)),
        key=lambda profile: (-profile.memory_slices, profile.name),
    )

    def place(index: int, used: int) -> bool:
        if index == len(wanted):
            return True
        profile = wanted[index]
        for start in profile.starts:
            mask = ((1 << profile.memory_slices) - 1) << start
            if start + profile.memory_slices <= MIG_MEMORY_SLICES and not used & mask:
                if place(index + 1, used | mask):
                    return True
        return False

    return place(0, 0)
