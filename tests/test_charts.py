"""``--charts DIR``: the add-on releases rendered from their pinned charts with Helm's own engine.

Tests that need the upstream chart sources read them from ``../shared/charts`` (INDEX.md there):
they fail when CI=true and the folder is missing (CI must provide it), and skip otherwise. Each
chart render is done once per module (fixture cache): a stack's charts take seconds to render.
"""

from __future__ import annotations

import contextlib
import copy
from decimal import Decimal
import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

from components import pins
from components.charts.engine import _Loader, manifest_objects
from components.charts.sources import ChartNotFound, ChartSource
from components.charts.stack_charts import ReleaseRender, render_release
from components.charts.values_check import check_values
from components.cli.main import main
from components.render.addons import HelmRelease
from tests.conftest import MODELS_DIR, REPO, STACKS_DIR, git

SHARED_CHARTS = REPO.parent / "shared" / "charts"
FIXTURE = ["--models", str(MODELS_DIR), "--stacks", str(STACKS_DIR)]


def shared_charts() -> Path:
    if not (SHARED_CHARTS / "INDEX.md").is_file():
        message = f"{SHARED_CHARTS} (the upstream chart sources) is missing"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must provide it")
        pytest.skip(message)
    return SHARED_CHARTS


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def prod_render() -> tuple[str, str]:
    """``render --stack prod --charts ../shared/charts --out -``, twice."""
    charts = str(shared_charts())
    first = run("render", *FIXTURE, "--stack", "prod", "--charts", charts, "--out", "-")
    second = run("render", *FIXTURE, "--stack", "prod", "--charts", charts, "--out", "-")
    assert first[0] == second[0] == 0, first[2]
    return first[1], second[1]


def release_documents(text: str) -> dict[str, list[dict]]:
    """The chart objects of a ``render --charts`` stream, by the release comment they follow."""
    releases: dict[str, list[dict]] = {}
    for block in text.split("\n# release ")[1:]:
        header, _, body = block.partition("\n")
        releases[header.split(":", 1)[0]] = [doc for doc in yaml.load_all(body, Loader=_Loader) if doc]
    return releases


@pytest.fixture(scope="module")
def prod_releases(prod_render) -> dict[str, list[dict]]:
    return release_documents(prod_render[0])


def test_render_with_charts_is_deterministic_and_has_the_chart_objects(prod_render, prod_releases):
    first, second = prod_render
    assert first == second
    releases = prod_releases
    assert list(releases) == [
        "cert-manager", "istio-base", "istio-cni", "istiod", "istio-ingressgateway", "knative-operator",
        "kserve-crd", "kserve", "kserve-runtimes", "kube-prometheus-stack", "cluster-autoscaler", "gpu-operator",
    ]
    istiod = [(d["kind"], d["metadata"]["namespace"]) for d in releases["istiod"] if d["kind"] == "Deployment"]
    assert istiod == [("Deployment", "istio-system")]
    # CRDs are included (helm template --include-crds): kserve-crd is nothing else.
    assert {d["kind"] for d in releases["kserve-crd"]} == {"CustomResourceDefinition"}


def test_prod_gateway_chart_gets_modelplanes_values(prod_releases):
    """The exact values modelplane passes reach the chart: prod's two gateway replicas
    (istio manifests/charts/gateway/templates/hpa.yaml @ 1.30.3: minReplicas from autoscaling)."""
    releases = prod_releases
    hpa = next(d for d in releases["istio-ingressgateway"] if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] == 2
    assert hpa["metadata"]["namespace"] == "istio-ingress"


def test_plan_counts_objects_per_release(prod_releases):
    code, out, err = run("plan", *FIXTURE, "--stack", "prod", "--charts", str(shared_charts()))
    assert code == 0, err
    releases = prod_releases
    for release, documents in releases.items():
        assert any(line.startswith(f"  {release} (") and f": {len(documents)} objects (" in line
                   for line in out.splitlines()), release
    assert f"Chart objects: {sum(map(len, releases.values()))} in {len(releases)} releases" in out


def test_a_missing_chart_is_an_input_error_naming_release_and_fix(tmp_path):
    code, out, err = run("render", *FIXTURE, "--stack", "prod", "--charts", str(tmp_path), "--out", "-")
    assert (code, out) == (1, "")
    assert f"{tmp_path}: release istiod: no chart istiod {pins.ISTIOD.version} in {tmp_path}" in err
    assert f"run `modelplane charts pull --dir {tmp_path}`" in err
    assert "Traceback" not in err


def test_the_environment_names_the_chart_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPLANE_CHARTS", str(tmp_path / "absent"))
    code, _, err = run("render", *FIXTURE, "--stack", "dev", "--out", "-")
    assert code == 1
    assert f"{tmp_path / 'absent'}: (file): not a directory of charts" in err


def test_without_charts_render_is_unchanged(monkeypatch):
    monkeypatch.delenv("MODELPLANE_CHARTS", raising=False)
    code, out, _ = run("render", *FIXTURE, "--stack", "dev", "--out", "-")
    assert code == 0 and "# release " not in out


def tiny_chart(root: Path, version: str = "1.0.0") -> Path:
    chart = root / f"tiny-{version}" / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: tiny\nversion: {version}\n", encoding="utf-8")
    (chart / "values.yaml").write_text("read: default\n", encoding="utf-8")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  namespace: {{ .Release.Namespace }}\n"
        "data:\n  read: {{ .Values.read | quote }}\n  kube: {{ .Capabilities.KubeVersion.Minor | quote }}\n",
        encoding="utf-8",
    )
    return chart


def tiny_render(tmp_path: Path, values: dict) -> ReleaseRender:
    chart = tiny_chart(tmp_path)
    pin = pins.ChartPin("tiny", "1.0.0", "https://charts.example.com")
    release = HelmRelease("tiny-release", "tiny-ns", pin, values)
    source = ChartSource(chart, pin, "1.0.0")
    return ReleaseRender(release, source, render_release(release, source, "1.35"))


def test_release_name_namespace_and_kube_version_are_helm_templates(tmp_path):
    render = tiny_render(tmp_path, {"read": "x"})
    [config_map] = manifest_objects(render.output)
    assert config_map["metadata"] == {"name": "tiny-release", "namespace": "tiny-ns"}
    assert config_map["data"] == {"read": "x", "kube": "35"}


def test_an_unread_values_key_is_an_error_naming_release_and_key(tmp_path):
    render = tiny_render(tmp_path, {"read": "x", "unread": {"deeply": 3}})
    report = check_values([render], tmp_path, "1.35", ())
    assert [(p.field, p.message.split(":")[0]) for p in report.problems] == [
        ("release tiny-release", "values key unread.deeply is not read by chart tiny 1.0.0"),
    ]
    assert report.checked_keys == 2


def test_read_values_keys_pass(tmp_path):
    render = tiny_render(tmp_path, {"read": "x"})
    assert check_values([render], tmp_path, "1.35", ()).problems == ()


def test_charts_check_passes_on_the_fixture_prod_stack():
    code, out, err = run("charts", "check", *FIXTURE, "--stack", "prod", "--charts", str(shared_charts()))
    assert code == 0, err
    assert out.startswith("ok: stack prod: ")
    assert "ok: stack prod: every model's pod, as KServe builds it, fits its LimitRange, its quota and a node" in out


def test_diff_names_the_chart_object_and_field_a_value_changes(repo):
    charts = str(shared_charts())
    repo.stack(addons={"istio-ingressgateway": {"values": {"autoscaling": {"maxReplicas": 9}}}})
    git(repo, "add", "-A")
    cwd = os.getcwd()
    os.chdir(repo.root)
    try:
        code, out, err = run("diff", "--stack", "dev", "--base", "base", "--charts", charts, "--format", "json")
    finally:
        os.chdir(cwd)
    assert code == 3, err
    changes = {c["key"]: c for c in json.loads(out)["changes"]}
    hpa = changes["HelmRelease/istio-ingressgateway/HorizontalPodAutoscaler/istio-ingress/istio-ingressgateway"]
    assert hpa["action"] == "changed"
    assert any("maxReplicas" in field["path"] for field in hpa["fields"]), hpa


def test_chart_objects_validate_against_the_upstream_crd_schemas(prod_render):
    """The custom resources the charts render with modelplane's values (kube-prometheus-stack's
    Prometheus, gpu-operator's ClusterPolicy, kserve's ClusterServingRuntimes ...) fit the CRDs."""
    shared_charts()
    tool = SHARED_CHARTS.parent / "tools" / "validate_crds.py"
    result = subprocess.run([sys.executable, str(tool), "-"], input=prod_render[0], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checked = int(result.stdout.rsplit("checked ", 1)[1].split(",")[0])
    catalog_only = run("render", *FIXTURE, "--stack", "prod", "--out", "-")[1]
    alone = subprocess.run([sys.executable, str(tool), "-"], input=catalog_only, capture_output=True, text=True)
    # More custom resources were checked than modelplane's own: the charts' were too.
    assert checked > int(alone.stdout.rsplit("checked ", 1)[1].split(",")[0])


def mirror_with_external_secrets(tmp_path: Path) -> Path:
    """../shared/charts plus a stand-in for the External Secrets Operator's chart, which it lacks
    (the fixture's staging stack installs it): a Chart.yaml of the pinned name and version is
    all `charts pull` checks before copying."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for entry in shared_charts().iterdir():
        (mirror / entry.name).symlink_to(entry)
    chart = mirror / "external-secrets@helm-chart-2.9.0" / "external-secrets"
    if not (shared_charts() / chart.parent.name).exists():
        chart.mkdir(parents=True)
        chart.joinpath("Chart.yaml").write_text(
            f"apiVersion: v2\nname: external-secrets\nversion: {pins.EXTERNAL_SECRETS.version}\n", encoding="utf-8",
        )
    return mirror


def test_charts_pull_from_a_mirror_verifies_and_is_idempotent(tmp_path):
    mirror, target = mirror_with_external_secrets(tmp_path), tmp_path / "charts"
    code, out, err = run("charts", "pull", *FIXTURE, "--dir", str(target), "--from", str(mirror))
    assert code == 0, err
    assert f"istiod: copied {mirror}/istiod@1.30.3/istio-discovery to {target}/istiod@1.30.3/istio-discovery" in out
    again = run("charts", "pull", *FIXTURE, "--dir", str(target), "--from", str(mirror))
    assert again[0] == 0 and "copied" not in again[1] and f"istiod: {target}/istiod@1.30.3/istio-discovery is up to date" in again[1]
    # A mirror without a chart the pins need: one problem naming the release.
    (tmp_path / "partial").mkdir()
    shutil.copytree(shared_charts() / "istiod@1.30.3", tmp_path / "partial" / "istiod@1.30.3")
    code, _, err = run("charts", "pull", *FIXTURE, "--dir", str(tmp_path / "other"), "--from", str(tmp_path / "partial"))
    assert code == 1 and "release gpu-operator: no chart gpu-operator" in err and "release istiod:" not in err


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(directory: Path):
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_charts_pull_from_an_http_repository_checks_the_pin(tmp_path):
    """A Helm HTTP repository served locally: index.yaml lists entries.<name>[] with version and
    urls (relative to the index). The format is Helm's repo index; it was not read from Helm's
    source here (no helm mirror), only from the published indexes' shape."""
    from components.charts.pull import pull_from_repository

    repository = tmp_path / "repo"
    repository.mkdir()
    chart = tiny_chart(tmp_path / "src", "1.0.0")
    with tarfile.open(repository / "tiny-1.0.0.tgz", "w:gz") as tar:
        tar.add(chart, arcname="tiny")
    (repository / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": {
        "tiny": [{"name": "tiny", "version": "1.0.0", "urls": ["tiny-1.0.0.tgz"]}]}}), encoding="utf-8")
    server = serve(repository)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        release = HelmRelease("tiny", "ns", pins.ChartPin("tiny", "1.0.0", url), {})
        charts = tmp_path / "charts"
        charts.mkdir()
        assert pull_from_repository(release, charts) == f"tiny: pulled tiny 1.0.0 into {charts}/tiny-1.0.0"
        assert pull_from_repository(release, charts) == f"tiny: {charts}/tiny-1.0.0 is up to date"
        newer = HelmRelease("tiny", "ns", pins.ChartPin("tiny", "1.1.0", url), {})
        with pytest.raises(ChartNotFound, match=r"index.yaml lists no tiny 1.1.0"):
            pull_from_repository(newer, charts)
    finally:
        server.shutdown()
    offline = HelmRelease("tiny", "ns", pins.ChartPin("tiny", "1.0.0", "http://127.0.0.1:9"), {})
    with pytest.raises(ChartNotFound, match=r"cannot reach http://127.0.0.1:9/index.yaml .*--from DIR"):
        pull_from_repository(offline, tmp_path)


GATEWAY_SOURCE = "istio-ingressgateway@1.30.3"
BASE_GATEWAY_PIN = '\nISTIO_GATEWAY = ChartPin("gateway", "1.30.3", ISTIO_REPOSITORY)\n'


@pytest.fixture(scope="module")
def bumped_gateway_charts(tmp_path_factory) -> Path:
    """A chart directory holding the gateway chart twice: the fixture copy at tag 1.30.3, and a
    constructed 1.30.5 whose Chart.yaml version is stamped, whose terminationGracePeriodSeconds
    default is 45 instead of 30, and which no longer renders the Role and RoleBinding. The other
    releases' charts are the shared ones (linked)."""
    shared, charts = shared_charts(), tmp_path_factory.mktemp("charts")
    for folder in sorted(shared.iterdir()):
        if folder.is_dir() and not folder.name.startswith("istio-ingressgateway@"):
            (charts / folder.name).symlink_to(folder)
    shutil.copytree(shared / GATEWAY_SOURCE, charts / GATEWAY_SOURCE)
    bumped = charts / "istio-ingressgateway@1.30.5" / "gateway"
    shutil.copytree(shared / GATEWAY_SOURCE / "gateway", bumped)
    chart_yaml = bumped / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text(encoding="utf-8").replace("\nversion: 1.0.0\n", "\nversion: 1.30.5\n"), encoding="utf-8")
    values = bumped / "values.yaml"
    text = values.read_text(encoding="utf-8")
    assert text.count("terminationGracePeriodSeconds: 30\n") == 1
    values.write_text(text.replace("terminationGracePeriodSeconds: 30\n", "terminationGracePeriodSeconds: 45\n"), encoding="utf-8")
    (bumped / "templates" / "role.yaml").unlink()
    return charts


def pin_bump_repo(repo, stack: str):
    """``repo`` whose base pins the gateway chart at 1.30.3 in its components/pins.py (as
    modelplane's own repository does); the work tree bumps it to modelplane's pin and sets the
    gateway's maxReplicas through the stack's add-on values."""
    real = (REPO / "components" / "pins.py").read_text(encoding="utf-8")
    assert pins.ISTIO_GATEWAY.version == "1.30.5"
    repo.write("components/pins.py", real + BASE_GATEWAY_PIN)
    if stack != "dev":
        (repo.stacks / "Pulumi.dev.yaml").unlink()
        repo.stack(stack, environment=stack)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base pins")
    git(repo, "tag", "-f", "base")
    repo.write("components/pins.py", real)
    repo.stack(stack, environment=stack, addons={"istio-ingressgateway": {"values": {"autoscaling": {"maxReplicas": 9}}}})
    return repo


def run_in(repo, *argv: str) -> tuple[int, str, str]:
    cwd = os.getcwd()
    os.chdir(repo.root)
    try:
        return run(*argv)
    finally:
        os.chdir(cwd)


def diff_in(repo, *argv: str) -> tuple[int, str, str]:
    return run_in(repo, "diff", *argv)


def test_diff_shows_a_pin_bump_and_a_values_change_object_by_object(repo, bumped_gateway_charts):
    """The Done-means test of issue 10: one pin (the base's components/pins.py says gateway 1.30.3,
    the work tree 1.30.5) and one value (autoscaling.maxReplicas), with two constructed chart
    versions; diff names every changed object and field."""
    pin_bump_repo(repo, "dev")
    code, out, err = diff_in(repo, "--stack", "dev", "--base", "base", "--charts", str(bumped_gateway_charts), "--format", "json")
    assert code == 3, err
    document = json.loads(out)
    changes = {c["key"]: c for c in document["changes"]}
    prefix = "HelmRelease/istio-ingressgateway"

    def fields(key: str) -> dict[str, tuple]:
        return {f["path"]: (f["before"], f["after"]) for f in changes[key]["fields"]}

    release = fields(prefix)
    assert release["version"] == ("1.30.3", "1.30.5")
    assert release["values.autoscaling.maxReplicas"] == (None, 9)
    hpa = fields(f"{prefix}/HorizontalPodAutoscaler/istio-ingress/istio-ingressgateway")
    assert hpa["spec.maxReplicas"] == (5, 9)
    deployment = fields(f"{prefix}/Deployment/istio-ingress/istio-ingressgateway")
    assert deployment["spec.template.spec.terminationGracePeriodSeconds"] == (30, 45)
    # The bumped chart no longer renders the gateway's Role and RoleBinding: removals, and in a
    # dev stack a warning, not an error.
    removed = sorted(key for key, c in changes.items() if c["action"] == "removed")
    assert removed == [f"{prefix}/Role/istio-ingress/istio-ingressgateway",
                       f"{prefix}/RoleBinding/istio-ingress/istio-ingressgateway"]
    assert document["errors"] == [] and any("2 resource(s) deleted or replaced" in w for w in document["warnings"])
    # Only the gateway changed: the other releases render from the same charts on both sides.
    assert {key.split("/")[1] for key in changes} == {"istio-ingressgateway"}


def test_a_pin_bump_that_removes_chart_objects_in_prod_needs_acknowledging(repo, bumped_gateway_charts):
    pin_bump_repo(repo, "prod")
    charts = str(bumped_gateway_charts)
    code, out, err = diff_in(repo, "--stack", "prod", "--base", "base", "--charts", charts)
    assert code == 1
    assert "HelmRelease/istio-ingressgateway/Role/istio-ingress/istio-ingressgateway" in err
    assert "need acknowledging" in err and "--allow-delete" in err
    assert "-/+" not in out and "- HelmRelease/istio-ingressgateway/Role/istio-ingress/istio-ingressgateway" in out
    # review takes --charts too; acknowledged, the removals are changes like any other.
    code, out, err = run_in(repo, "review", "--base", "base", "--charts", charts, "--allow-delete", "--format", "json")
    assert code == 3, err
    [review] = json.loads(out)
    assert review["stack"] == "prod" and review["diff"]["errors"] == [] and review["diff"]["removed"] == 2


def test_the_base_charts_must_be_in_the_chart_directory_too(repo, tmp_path_factory):
    """A base pinning a version DIR lacks: one problem naming the release, the version and the base."""
    shared, charts = shared_charts(), tmp_path_factory.mktemp("head-only")
    for folder in sorted(shared.iterdir()):
        if folder.is_dir():
            (charts / folder.name).symlink_to(folder)
    real = (REPO / "components" / "pins.py").read_text(encoding="utf-8")
    repo.write("components/pins.py", real + BASE_GATEWAY_PIN.replace("1.30.3", "1.29.0"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base pins")
    git(repo, "tag", "-f", "base")
    code, out, err = diff_in(repo, "--stack", "dev", "--base", "base", "--charts", str(charts))
    assert (code, out) == (1, "")
    assert f"{charts}: release istio-ingressgateway: no chart gateway 1.29.0 in {charts}" in err
    assert "(for the base base, whose pins are those of base:components/pins.py" in err


def test_values_that_fail_a_charts_schema_name_the_release_and_each_key(workspace):
    """Helm validates the coalesced values against values.schema.json on every render (helm v4.2.3
    pkg/chart/common/util/values.go:64 and jsonschema.go:76, the version helm-python-sdk 0.2.2
    embeds); the gateway chart's schema (istio manifests/charts/gateway/values.schema.json @ 1.30.3)
    wants an integer maxReplicas and no unknown top-level key."""
    workspace.team()
    workspace.model()
    workspace.stack(addons={"istio-ingressgateway": {"values": {"autoscaling": {"maxReplicas": "nine"}, "replicaz": 2}}})
    code, out, err = run("render", "--models", str(workspace.models), "--stacks", str(workspace.stacks),
                         "--stack", "dev", "--charts", str(shared_charts()), "--out", "-")
    assert (code, out) == (1, "")
    lines = [line for line in err.splitlines() if "release istio-ingressgateway" in line]
    chart = "chart gateway 1.30.3's values.schema.json"  # the version of the files rendered
    assert len(lines) == 2, err
    assert any(f"values key autoscaling.maxReplicas fails {chart}: got string, want integer" in line for line in lines)
    assert any(f"values fail {chart}: additional properties 'replicaz' not allowed" in line for line in lines)
    assert all("modelplane:addons.istio-ingressgateway.values" in line for line in lines)
    assert "Traceback" not in err and "2 problems found; nothing was written" in err


def test_a_subcharts_schema_failure_is_keyed_from_the_release_values(tmp_path):
    from components.charts.engine import ChartSchemaError, render_chart

    chart = tiny_chart(tmp_path)
    sub = chart / "charts" / "sub"
    (sub / "templates").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 0.1.0\n", encoding="utf-8")
    (sub / "values.schema.json").write_text(json.dumps({
        "type": "object", "properties": {"ports": {"type": "array", "items": {"type": "integer"}}}}), encoding="utf-8")
    with pytest.raises(ChartSchemaError) as raised:
        render_chart(chart, {"sub": {"ports": [80, "http"]}}, release="r", namespace="n", kube_version="1.35")
    assert [(v.key, v.message) for v in raised.value.violations] == [("sub.ports.1", "got string, want integer")]


def test_render_out_writes_every_chart_object_to_a_file_of_its_own(prod_render, tmp_path):
    """The prod fixture with every chart: as many files as objects in the `--out -` stream, chart
    objects under _releases/<release>/, nothing overwritten."""
    out = tmp_path / "tree"
    code, _, err = run("render", *FIXTURE, "--stack", "prod", "--charts", str(shared_charts()), "--out", str(out))
    assert code == 0, err
    documents = [doc for doc in yaml.load_all(prod_render[0], Loader=_Loader) if doc]
    files = sorted(path.relative_to(out).as_posix() for path in out.rglob("*.yaml"))
    assert f"wrote {len(documents)} objects to {out}" in err
    assert len(files) == len(documents)
    releases = release_documents(prod_render[0])
    for release, objects in releases.items():
        assert len([f for f in files if f.startswith(f"_releases/{release}/")]) == len(objects), release
    assert "_releases/istiod/istio-system/deployment-istiod.yaml" in files
    assert "_releases/kserve-crd/_cluster/customresourcedefinition-inferenceservices.serving.kserve.io.yaml" in files


def config_map(name: str, namespace: str | None = None, kind: str = "ConfigMap") -> dict:
    meta = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"from": f"{namespace}/{name}"}}


def test_objects_of_one_kind_and_name_in_other_releases_or_namespaces_keep_their_files(tmp_path):
    from components.cli.object_tree import write_object_tree
    from components.render.stack_render import ReleaseObjects

    own = [config_map("shared", "team-a")]
    releases = (
        ReleaseObjects("one", "c 1", "src", (config_map("shared", "team-a"), config_map("shared", "other"),
                                            config_map("shared", kind="ClusterRole"))),
        ReleaseObjects("two", "c 1", "src", (config_map("shared", "team-a"),)),
    )
    out = tmp_path / "tree"
    assert write_object_tree(own, out, releases) == 5
    written = {path.relative_to(out).as_posix(): yaml.safe_load(path.read_text(encoding="utf-8"))
               for path in out.rglob("*.yaml")}
    assert set(written) == {
        "team-a/configmap-shared.yaml",
        "_releases/one/team-a/configmap-shared.yaml", "_releases/one/other/configmap-shared.yaml",
        "_releases/one/_cluster/clusterrole-shared.yaml", "_releases/two/team-a/configmap-shared.yaml",
    }
    assert written["_releases/one/other/configmap-shared.yaml"]["data"] == {"from": "other/shared"}


def test_two_objects_for_one_file_are_a_problem_and_nothing_is_written(tmp_path):
    from components.catalog.problems import InputError
    from components.cli.object_tree import write_object_tree
    from components.render.stack_render import ReleaseObjects

    out = tmp_path / "tree"
    twice = (ReleaseObjects("one", "c 1", "src", (config_map("x", "ns"), config_map("x", "ns"))),)
    with pytest.raises(InputError) as raised:
        write_object_tree([], out, twice)
    [problem] = raised.value.problems
    assert problem.file == f"{out}/_releases/one/ns/configmap-x.yaml"
    assert "two objects would be written to this file (ConfigMap/ns/x and ConfigMap/ns/x)" in problem.message
    assert not out.exists()


def test_a_chart_object_another_owner_renders_or_no_file_can_name_is_a_problem(tmp_path):
    from types import SimpleNamespace

    from components.charts.stack_charts import identity_problems
    from components.render.stack_render import ReleaseObjects

    rendered = SimpleNamespace(objects=(config_map("inferenceservice-config", "kserve"),))
    releases = [
        ReleaseObjects("kserve", "c 1", "src", (config_map("inferenceservice-config", "kserve"),
                                               config_map("x", "ns"), config_map("x", "other"))),
        ReleaseObjects("extra", "c 1", "src", (config_map("x", "ns"), config_map("../../etc", "ns"),
                                               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})),
    ]
    messages = [(p.field, p.message.split(":")[0]) for p in identity_problems(rendered, releases, tmp_path)]
    assert messages == [
        ("release kserve", "renders ConfigMap kserve/inferenceservice-config (core API) and so does modelplane (the catalog and platform objects)"),
        ("release extra", "renders ConfigMap ns/x (core API) and so does release kserve"),
        ("release extra", "the chart renders 'ConfigMap ns/../../etc', whose kind, namespace or name is not a Kubernetes name; fix the chart or its values"),
        ("release extra", "the chart renders an object without a kind or a metadata.name ('ConfigMap '); fix the chart or its values"),
    ]


@pytest.fixture(scope="module")
def prod_kubernetes_version() -> str:
    from components.cli.inputs import Paths, load_rendered_stack

    return load_rendered_stack(Paths(MODELS_DIR, STACKS_DIR), "prod").cluster.kubernetes_version


def test_the_charts_built_in_objects_validate_at_the_stacks_kubernetes_version(prod_releases, prod_kubernetes_version):
    """Every object of a Kubernetes API the charts render (Deployments, RBAC, webhooks, CRDs ...)
    against kubernetes-validate's strict schemas (unknown fields fail) of the prod stack's version;
    the custom resources are checked against their CRDs in test_chart_objects_validate_against_the_upstream_crd_schemas."""
    from tests.schema_checks import check_builtin, is_builtin_api

    checked, errors, no_schema = 0, [], []
    for release, documents in prod_releases.items():
        for obj in documents:
            if not is_builtin_api(obj["apiVersion"]):
                continue
            found = check_builtin(obj, prod_kubernetes_version)
            if found is None:
                no_schema.append(f"{release}: {obj['apiVersion']} {obj['kind']}")
                continue
            checked += 1
            errors += [f"{release}: {obj['kind']} {obj['metadata']['name']}: {error}" for error in found]
    assert errors == [] and no_schema == []
    assert checked > 200  # 229 at the pins of 2026-12-02: every built-in kind the charts render


def test_the_built_in_check_finds_an_unknown_field_and_a_wrong_type(prod_releases, prod_kubernetes_version):
    from tests.schema_checks import check_builtin

    istiod = next(d for d in prod_releases["istiod"] if d["kind"] == "Deployment")
    assert check_builtin(istiod, prod_kubernetes_version) == []
    typo = copy.deepcopy(istiod)
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert check_builtin(typo, prod_kubernetes_version) != []
    wrong = copy.deepcopy(istiod)
    wrong["spec"]["replicas"] = "two"
    assert check_builtin(wrong, prod_kubernetes_version) == ["spec.replicas: 'two' is not of type 'integer', 'null'"]
    assert check_builtin({"apiVersion": "v1", "kind": "NoSuchKind"}, prod_kubernetes_version) is None


def test_the_charts_typed_custom_resources_survive_a_round_trip(prod_releases):
    """The chart objects cloudcoil has pydantic models for (kube-prometheus-stack's ServiceMonitors
    and PrometheusRules, cert-manager's ...) parse and dump back unchanged: no unknown field."""
    from tests.schema_checks import _cloudcoil_checkers

    checkers = _cloudcoil_checkers()
    checked, errors = 0, []
    for release, documents in prod_releases.items():
        for obj in documents:
            checker = checkers.get((obj["apiVersion"], obj["kind"]))
            if checker:
                checked += 1
                errors += [f"{release}: {obj['kind']} {obj['metadata']['name']}: {e}" for e in checker(obj)]
    assert errors == []
    assert checked > 40  # 46 at the pins of 2026-12-02


STORAGE_CONFIG = {"cpuRequest": "100m", "memoryRequest": "100Mi", "cpuLimit": "1", "memoryLimit": "1Gi"}
MODEL_CONTAINER = {"resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}}
RUNTIME_CONTAINER = {"name": "kserve-container", "resources": {
    "requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1Gi"}}}


def test_a_model_pod_that_fits_has_no_problems():
    from components.charts.pod_fit import pod_problems

    limit_range = {"spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                                        "default": {"memory": "512Mi"}}]}}
    quota = {"spec": {"hard": {"requests.cpu": "4", "requests.memory": "8Gi", "requests.nvidia.com/gpu": "0"}}}
    nodes = {"m6i.large": (Decimal("1.5"), Decimal(6 * 2**30))}
    assert pod_problems(RUNTIME_CONTAINER, MODEL_CONTAINER, STORAGE_CONFIG, limit_range, quota, nodes) == []


def test_a_model_pod_over_its_limit_range_quota_or_nodes_is_named():
    """Deliberately failing: a LimitRange max, a runtime limit the model leaves out (KServe keeps
    it: container_merge.go @ v0.20.0), a quota one pod exceeds, nodes too small."""
    from components.charts.pod_fit import pod_problems

    limit_range = {"spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]}}
    quota = {"spec": {"hard": {"requests.cpu": "1", "requests.memory": "8Gi"}}}
    nodes = {"t3.small": (Decimal("1.5"), Decimal(2**30))}
    model = {"resources": {"requests": {**MODEL_CONTAINER["resources"]["requests"], "ephemeral-storage": "2Gi"},
                           "limits": MODEL_CONTAINER["resources"]["limits"]}}
    problems = pod_problems(RUNTIME_CONTAINER, model, STORAGE_CONFIG, limit_range, quota, nodes)
    assert problems == [
        "container kserve-container requests ephemeral-storage 2048Mi above its limit 1024Mi",
        "container kserve-container exceeds (or sets no limit under) the LimitRange's max memory 1024Mi",
        "container istio-proxy exceeds (or sets no limit under) the LimitRange's max memory 1024Mi",
        "container queue-proxy exceeds (or sets no limit under) the LimitRange's max memory 1024Mi",
        "one pod requests cpu 1.125, above the team quota's 1",
        "one pod requests 1.125 CPU and 2240Mi, more than any node of its pools leaves to pods (t3.small)",
    ]


def test_the_resources_merge_agrees_with_the_reproduced_kserve_merge(prod_releases):
    """pod_fit merges only resources; tests/kserve_merge.py reproduces KServe's whole strategic
    merge: on every runtime the charts render and a model container with and without limits, they agree."""
    from components.catalog.quantities import parse_quantity
    from components.charts.pod_fit import model_container
    from tests.kserve_merge import merge_runtime_container

    runtimes = [d for d in prod_releases["kserve-runtimes"] if d["kind"] == "ClusterServingRuntime"]
    assert len(runtimes) > 10
    for runtime in runtimes:
        container = next(c for c in runtime["spec"]["containers"] if c["name"] == "kserve-container")
        for ours in (MODEL_CONTAINER, {"resources": {"requests": {"memory": "3Gi"}}}, {"name": "kserve-container"}):
            merged = merge_runtime_container(container, ours).get("resources") or {}
            mine = model_container(container, ours)
            assert mine.requests == {k: parse_quantity(str(v)) for k, v in (merged.get("requests") or {}).items()}
            assert mine.limits == {k: parse_quantity(str(v)) for k, v in (merged.get("limits") or {}).items()}


def test_the_pod_check_names_a_model_whose_pod_would_not_fit(workspace, tmp_path):
    """End to end, deliberately failing: a kserve chart whose storage initializer requests 64Gi
    (the init container's request counts when it is the pod's largest) makes every model's pod
    larger than any node, which only the pod as KServe builds it shows; the check charts check
    runs names the model file (called directly: charts check would also run the costly unread-key
    check, and test_charts_check_passes_on_the_fixture_prod_stack covers its wiring)."""
    from components.charts.pod_fit import stack_pod_problems
    from components.charts.stack_charts import with_chart_objects
    from components.cli.inputs import Paths, load_rendered_stack

    shared, charts = shared_charts(), tmp_path / "charts"
    charts.mkdir()
    for folder in sorted(shared.iterdir()):
        if folder.is_dir() and not folder.name.startswith("kserve@"):
            (charts / folder.name).symlink_to(folder)
    [kserve] = [folder.name for folder in shared.iterdir() if folder.name.startswith("kserve@")]
    shutil.copytree(shared / kserve, charts / kserve)
    patch = charts / kserve / "kserve-resources" / "files" / "common" / "configmap-patch.yaml"
    text = patch.read_text(encoding="utf-8")
    storage = 'kserve.storage.tag | default .Values.kserve.version }}",\n        "memoryRequest": "100Mi"'
    assert text.count(storage) == 1
    patch.write_text(text.replace(storage, storage.replace("100Mi", "64Gi")), encoding="utf-8")
    workspace.team()
    model = workspace.model()
    workspace.stack()
    rendered = with_chart_objects(load_rendered_stack(Paths(workspace.models, workspace.stacks), "dev"), charts)
    problems = stack_pod_problems(rendered, {r.release: list(r.objects) for r in rendered.chart_objects}, str(charts))
    lines = [str(problem) for problem in problems]
    assert len(lines) == 2 and all(line.startswith(f"{model}: resources: stack dev: as KServe builds the pod") for line in lines)
    assert lines[0].endswith("container storage-initializer requests memory 65536Mi above its limit 1024Mi")
    assert lines[1].endswith("one pod requests 1.125 CPU and 65536Mi, more than any node of its pools leaves to pods (m6i.large)")
