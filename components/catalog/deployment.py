"""What the catalog means in one stack: each model's effective settings, GPU and node pool.

Per-stack overrides are merged, the critical rule is applied, GPU requests are matched to the
stack's node pools (``placement``), and every team's floor of replicas is checked against its
quota and the GPU pools' sizes (``budgets``). The result (``deployed``) is what the renderer draws
from; nothing here knows about Kubernetes object shapes.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from decimal import ROUND_CEILING, Decimal

from components.catalog.cold_start import DEFAULT_REQUEST_TIMEOUT_SECONDS, ColdStartPolicy, resolve_cold_start
from components.catalog.budgets import capacity_problems, capacity_warnings, quota_problems
from components.catalog.deployed import DeployedModel, ModelSlo, StackDeployment
from components.catalog.loader import Catalog, CatalogModel, CatalogTeam
from components.catalog.model_spec import HPA_METRICS, ModelSpec, cpu_limit_problem, scaling_problem
from components.catalog.placement import fit_problems, place_model
from components.catalog.problems import InputError, Problem
from components.catalog.quantities import cpu_cores, format_cpu
from components.catalog.rules import catalog_problems, route_grant_problems, route_path
from components.catalog.scaling_behavior import behavior_problem, resolve_behavior
from components.catalog.stacks import Stack

CRITICAL_FLOOR_SETTING = "modelplane:serving.availability.critical_min_replicas"


def resolve_deployment(catalog: Catalog, stack: Stack, all_stack_names: list[str]) -> StackDeployment:
    """Resolve ``catalog`` for ``stack``; raise :class:`InputError` with every problem found."""
    problems = list(catalog_problems(catalog))
    deployed = []
    for team, model in catalog.models():
        result = _resolve_model(team, model, stack, all_stack_names, problems)
        if result is not None:
            deployed.append(result)
    by_team: dict[str, list[DeployedModel]] = defaultdict(list)
    for model in deployed:
        by_team[model.team.name].append(model)
    problems.extend(bucket_problems(catalog, stack))
    problems.extend(route_grant_problems(catalog, stack.settings.route_grants, stack.source))
    problems.extend(release_namespace_problems(catalog, stack))
    for team in catalog.teams:
        problems.extend(quota_problems(team, by_team[team.name], stack))
    problems.extend(capacity_problems(stack, deployed))
    if problems:
        raise InputError(problems)
    return StackDeployment(
        stack=stack, teams=catalog.teams, models=tuple(deployed),
        warnings=tuple(sorted(
            capacity_warnings(stack, deployed) + canary_warnings(stack, deployed) + secret_warnings(stack, deployed)
        )),
    )


def first_canary_message(model: DeployedModel, stack: Stack) -> str:
    """What happens to a canary on a model's first deployment in a stack, and what to do."""
    return (
        f"KServe splits traffic only once a revision of the model has been rolled out, so on the "
        f"first deployment of {model.name} in stack {stack.name} the canary "
        f"({model.spec.canary.storage_uri if model.spec.canary else ''}) gets all of the traffic "
        "and storage_uri never runs; deploy the model without canary first and add the canary in "
        "a second pull request"
    )


def canary_warnings(stack: Stack, models: list[DeployedModel]) -> list[Problem]:
    """Every canary, since without a base (validate, plan) nothing says whether the model already
    runs in the stack; diff and review refuse the ones that would be a first deployment."""
    return [
        Problem(model.model.source, "canary", "if the model is not running yet: " + first_canary_message(model, stack))
        for model in models if model.spec.canary is not None
    ]


def secret_warnings(stack: Stack, models: list[DeployedModel]) -> list[Problem]:
    """Secrets a model reads that the stack does not create (provider ``kubernetes``): until
    someone creates them in the namespace, the model's new pods cannot start."""
    if stack.settings.secrets.provider != "kubernetes":
        return []
    return [
        Problem(
            model.model.source, f"secrets.{name}",
            f"reads key {ref.key} of Secret {ref.secret}, which stack {stack.name} does not create "
            f"(modelplane:secrets.provider is kubernetes): create it in namespace {model.namespace} "
            "before this deploys, or set modelplane:secrets.provider to aws-secrets-manager",
        )
        for model in models for name, ref in sorted(model.spec.secrets.items())
    ]


def _resolve_model(
    team: CatalogTeam,
    model: CatalogModel,
    stack: Stack,
    all_stack_names: list[str],
    problems: list[Problem],
) -> DeployedModel | None:
    spec = model.spec
    for name in spec.environments:
        if name not in all_stack_names:
            problems.append(Problem(
                model.source, f"environments.{name}",
                f"there is no stack {name!r} (stacks: {', '.join(all_stack_names)}); "
                "use a stack name",
            ))
    if spec.retired:
        return None
    override = spec.environments.get(stack.name)
    override_field = f"environments.{stack.name}"
    # Critical models keep this many replicas in the stack (the stack's availability setting).
    floor = critical_floor(spec, stack)
    if not runs_in(spec, stack):
        if floor:
            problems.append(Problem(
                model.source, f"{override_field}.enabled",
                f"the model is critical, so it must run in stack {stack.name}, where critical "
                f"models keep at least {floor} replicas ({CRITICAL_FLOOR_SETTING}); remove "
                "enabled: false or set critical: false",
            ))
        return None

    scaling = spec.scaling
    scaling_override = override.scaling if override is not None else None
    min_replicas, max_replicas = effective_replicas(spec, stack)
    metric, target = scaling.metric, scaling.target
    if scaling_override is not None:
        metric = _pick(scaling_override.metric, metric)
        target = _pick(scaling_override.target, target)
        # Checked as the files say, before the critical floor.
        problem = scaling_problem(
            _pick(scaling_override.min_replicas, scaling.min_replicas),
            _pick(scaling_override.max_replicas, scaling.max_replicas), metric,
        )
        if problem:
            problems.append(Problem(model.source, f"{override_field}.scaling", problem))
        if scaling_override.min_replicas is not None and scaling_override.min_replicas < floor:
            problems.append(Problem(
                model.source, f"{override_field}.scaling.min_replicas",
                f"the model is critical, so it keeps at least {floor} replicas in stack "
                f"{stack.name} ({CRITICAL_FLOOR_SETTING}); remove this override or set it to "
                f"{floor} or more",
            ))
    hpa = metric in HPA_METRICS
    override_behavior = scaling_override.behavior if scaling_override is not None else None
    for field, layer in ((f"{override_field}.scaling.behavior", override_behavior), ("scaling.behavior", scaling.behavior)):
        # The file's own behavior with its own metric was checked on loading; this catches an
        # override that moves the model to the HPA, or adds panic settings there.
        problem = behavior_problem(metric, hpa, layer)
        if problem:
            problems.append(Problem(model.source, field, f"in stack {stack.name}: {problem}"))
    behavior = resolve_behavior(spec.gpu is not None, hpa, override_behavior, scaling.behavior)

    resources_override = override.resources if override is not None else None
    cpu = spec.resources.cpu
    memory = spec.resources.memory
    cpu_limit = spec.resources.cpu_limit
    if resources_override is not None:
        cpu = _pick(resources_override.cpu, cpu)
        memory = _pick(resources_override.memory, memory)
        cpu_limit = _pick(resources_override.cpu_limit, cpu_limit)
        problem = cpu_limit_problem(cpu, cpu_limit)
        if problem:
            problems.append(Problem(model.source, f"{override_field}.resources", problem))
    if cpu_limit is None:
        cpu_limit = default_cpu_limit(cpu, stack.settings.serving.cpu_limit_ratio)

    known = len(problems)
    gpu_claim, pool_names = place_model(model, stack, problems)
    # A model no pool can serve has no cold start to speak of.
    cold_start, timeout_seconds = _cold_start(
        model, stack, min_replicas, max_replicas, gpu=spec.gpu is not None,
        problems=problems if len(problems) == known else [],
    )
    if pool_names:
        fit_problems(model, stack, pool_names, cpu, memory, problems)
        if spec.critical and min_replicas >= 2:
            problems.extend(spread_problems(model, stack, pool_names, min_replicas))

    domain = stack.settings.domain
    host = f"{spec.name}-{team.name}.{domain}" if spec.is_grpc else domain
    if spec.is_grpc and len(f"{spec.name}-{team.name}") > 63:
        problems.append(Problem(
            model.source, "name",
            f"gRPC models are reached at <model>-<team>.{domain}, and "
            f"{spec.name}-{team.name} is longer than a 63-character DNS label; shorten the name",
        ))
    return DeployedModel(
        team=team,
        model=model,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        metric=metric,
        target=target,
        cpu=cpu,
        cpu_limit=cpu_limit,
        memory=memory,
        gpu=gpu_claim,
        node_pools=pool_names,
        route_path=route_path(team, model),
        host=host,
        slo=_slo(spec, stack),
        cold_start=cold_start,
        timeout_seconds=timeout_seconds,
        behavior=behavior,
    )


def runs_in(spec: ModelSpec, stack: Stack) -> bool:
    """Whether the model is deployed in ``stack``: not retired, and not disabled there."""
    override = spec.environments.get(stack.name)
    return not spec.retired and (override is None or override.enabled is not False)


def effective_replicas(spec: ModelSpec, stack: Stack) -> tuple[int, int]:
    """Minimum and maximum replicas in ``stack``: the stack's override merged over ``scaling``, and
    a critical model kept at the stack's floor for critical models or more."""
    override = spec.environments.get(stack.name)
    scaling_override = override.scaling if override is not None else None
    min_replicas, max_replicas = spec.scaling.min_replicas, spec.scaling.max_replicas
    if scaling_override is not None:
        min_replicas = _pick(scaling_override.min_replicas, min_replicas)
        max_replicas = _pick(scaling_override.max_replicas, max_replicas)
    min_replicas = max(min_replicas, critical_floor(spec, stack))
    max_replicas = max(max_replicas, min_replicas)
    return min_replicas, max_replicas


def critical_floor(spec: ModelSpec, stack: Stack) -> int:
    """The replicas a critical model keeps in ``stack`` (``CRITICAL_FLOOR_SETTING``); 0 for the others."""
    return stack.settings.critical_min_replicas if spec.critical else 0


def _cold_start(
    model: CatalogModel, stack: Stack, min_replicas: int, max_replicas: int, gpu: bool, problems: list[Problem],
) -> tuple[ColdStartPolicy, int]:
    """The model's cold-start policy and request timeout in ``stack``; problems appended."""
    spec = model.spec
    override = spec.environments.get(stack.name)
    override_field = f"environments.{stack.name}"
    kind = "gpu" if gpu else "cpu"
    stack_defaults = getattr(stack.settings.serving.cold_start, kind)
    own = override.cold_start if override is not None else None
    policy = resolve_cold_start(gpu, own, spec.cold_start, stack_defaults)

    def where(name: str) -> tuple[str, str] | None:
        """The file and field that set cold_start.<name>; ``None`` for modelplane's default."""
        if own is not None and getattr(own, name) is not None:
            return model.source, f"{override_field}.cold_start.{name}"
        if spec.cold_start is not None and getattr(spec.cold_start, name) is not None:
            return model.source, f"cold_start.{name}"
        if getattr(stack_defaults, name) is not None:
            return stack.source, f"modelplane:serving.cold_start.{kind}.{name}"
        return None

    if policy.initial_replicas > max_replicas:
        file, field = where("initial_replicas") or (model.source, "cold_start.initial_replicas")
        problems.append(Problem(
            file, field,
            f"initial_replicas {policy.initial_replicas} is more than max_replicas {max_replicas} of "
            f"{model.name} in stack {stack.name}: a new revision would wait for replicas it may never "
            "start and never become ready; lower initial_replicas or raise max_replicas",
        ))
    deadline = stack.settings.progress_deadline_seconds
    if policy.expected_seconds > deadline:
        # modelplane's default beyond the stack's own deadline: the deadline is what to look at.
        file, field = where("expected_seconds") or (
            (stack.source, "modelplane:serving.progress_deadline_seconds")
            if stack.settings.serving.progress_deadline_seconds is not None
            else (model.source, "cold_start.expected_seconds")
        )
        problems.append(Problem(
            file, field,
            f"{model.name} may take {policy.expected_seconds} s to start, longer than the progress "
            f"deadline of stack {stack.name} ({deadline} s), after which Knative fails a new revision "
            "and gives up on a request waiting at zero (30 s later); raise "
            "modelplane:serving.progress_deadline_seconds or lower cold_start.expected_seconds",
        ))

    # Knative starts max(min-scale, initial-scale) replicas for a new revision (knative/serving
    # @ knative-v1.23.0 pkg/reconciler/autoscaling/kpa/kpa.go:324-331): render what it will do.
    policy = dataclasses.replace(policy, initial_replicas=max(policy.initial_replicas, min_replicas))
    explicit = override.timeout_seconds if override is not None and override.timeout_seconds is not None else spec.timeout_seconds
    if explicit is None:
        timeout = max(DEFAULT_REQUEST_TIMEOUT_SECONDS, policy.expected_seconds) if min_replicas == 0 else DEFAULT_REQUEST_TIMEOUT_SECONDS
        return policy, timeout
    if min_replicas == 0 and explicit < policy.expected_seconds:
        field = (
            f"{override_field}.timeout_seconds" if override is not None and override.timeout_seconds is not None
            else "timeout_seconds"
        )
        problems.append(Problem(
            model.source, field,
            f"{explicit} s is shorter than a cold start of {model.name} ({policy.expected_seconds} s, "
            f"cold_start.expected_seconds), and it scales to zero in stack {stack.name}: the first "
            f"request after it went idle would fail; raise it (environments.{stack.name}.timeout_seconds "
            f"for this stack only) to {policy.expected_seconds} or more, keep a replica "
            f"(environments.{stack.name}.scaling.min_replicas: 1), or lower cold_start.expected_seconds "
            "if the model starts faster",
        ))
    return policy, explicit


def spread_problems(model: CatalogModel, stack: Stack, pool_names: tuple[str, ...], replicas: int) -> list[Problem]:
    """A critical model's ``replicas`` each need a node of their own (the render spreads them
    over nodes, hard, and over zones): the model's pools must be able to grow to that many."""
    pools = stack.settings.node_pools
    nodes = sum(pools[name].max_size for name in pool_names)
    if nodes >= replicas:
        return []
    listed = ", ".join(f"{name} (max_size {pools[name].max_size})" for name in pool_names)
    return [Problem(
        model.source, "critical",
        f"the model is critical, so its {replicas} replicas in stack {stack.name} run on {replicas} "
        f"different nodes, but its pools reach {nodes} at most: {listed}; raise max_size in "
        f"{stack.source}, or lower {CRITICAL_FLOOR_SETTING} or the model's min_replicas there",
    )]


def default_cpu_limit(cpu: str, ratio: float) -> str:
    """``cpu`` times ``ratio``, rounded up to a whole millicore (never below the request)."""
    cores = cpu_cores(cpu) * Decimal(str(ratio))
    millicores = (cores * 1000).to_integral_value(rounding=ROUND_CEILING)
    return format_cpu(max(millicores / 1000, cpu_cores(cpu)))


def _slo(spec: ModelSpec, stack: Stack) -> ModelSlo:
    defaults = stack.settings.monitoring.slo_defaults
    own = spec.slo
    return ModelSlo(
        p95_latency_ms=_pick(own.p95_latency_ms if own else None, defaults.p95_latency_ms),
        error_rate=_pick(own.error_rate if own else None, defaults.error_rate),
        availability=_pick(own.availability if own else None, defaults.availability),
    )


def _pick(override, default):
    return default if override is None else override


def release_namespace_problems(catalog: Catalog, stack: Stack) -> list[Problem]:
    """A team namespace that is also the namespace of one of the stack's extra releases: the
    team's role, quota and network policy would land in a namespace the platform installs into.
    (The add-ons' own namespaces are reserved in every stack: ``RESERVED_NAMESPACES``.)"""
    releases: dict[str, list[str]] = defaultdict(list)
    for release in stack.settings.extra_releases:
        releases[release.namespace].append(release.name)
    problems = []
    for team in catalog.teams:
        names = releases.get(team.namespace)
        if names:
            problems.append(Problem(
                team.source, "namespace",
                f"{team.namespace!r} is the namespace of the extra release {', '.join(names)} of "
                f"stack {stack.name} ({stack.source}); the platform owns it, so choose another namespace",
            ))
    return problems


def bucket_problems(catalog: Catalog, stack: Stack) -> list[Problem]:
    """Team prefixes and ``s3://`` model URIs outside the buckets the stack allows.

    The team's IAM role is generated from its prefixes, so without this a pull request could give
    a team read access to any bucket (the Pulumi state, another account's data).
    """
    allowed = set(stack.settings.model_buckets)
    fix = (
        f"use one of the buckets stack {stack.name} allows ({', '.join(stack.settings.model_buckets)}), "
        f"or have the platform team add it to modelplane:model_buckets in {stack.source}"
    )
    problems = []
    for team in catalog.teams:
        for index, prefix in enumerate(team.spec.storage.s3_prefixes):
            bucket = prefix.removeprefix("s3://").split("/", 1)[0]
            if bucket not in allowed:
                problems.append(Problem(
                    team.source, f"storage.s3_prefixes[{index}]",
                    f"bucket {bucket} is not one stack {stack.name} keeps models in; {fix}",
                ))
        for model in team.models:
            uris = [("storage_uri", model.spec.storage_uri)]
            if model.spec.canary is not None:
                uris.append(("canary.storage_uri", model.spec.canary.storage_uri))
            for field, uri in uris:
                bucket = uri.removeprefix("s3://").split("/", 1)[0]
                if uri.startswith("s3://") and bucket not in allowed:
                    problems.append(Problem(
                        model.source, field, f"bucket {bucket} is not one stack {stack.name} keeps models in; {fix}",
                    ))
    return problems
