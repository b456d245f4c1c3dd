"""``--charts DIR``: the add-on releases rendered from their pinned charts with Helm's own engine.

Tests that need the upstream chart sources read them from ``../shared/charts`` (INDEX.md there):
they fail when CI=true and the folder is missing (CI must provide it), and skip otherwise. Each
chart render is done once per module (fixture cache): a stack's charts take seconds to render.
"""

from __future__ import annotations

import contextlib
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
