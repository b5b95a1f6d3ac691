"""deploy/helm/trustacks: rendered for each values file under ci/, every object validated, and the
pod's environment loaded by the service's own configuration code.

Rendering uses tests/ship/gotemplate.py (Go template semantics with Helm's functions; no helm
binary here). Built-in objects are validated by kubernetes-validate with its strict schemas;
the ServiceMonitor (a CRD kubernetes-validate has no schema for) by a schema of the fields the
chart sets, with its metadata and selector checked against the Kubernetes definitions.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils as kvu
import pytest
import yaml
from click.testing import CliRunner
from referencing import Registry, Resource

from bot.cli import cli
from bot.config import load_settings
from bot.policy import trusted
from tests.ship.dockerfile import read as read_dockerfile
from tests.ship.gotemplate import Fail, Rendered, render_chart

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "trustacks"
K8S_VERSION = "1.31"  # the oldest minor the chart supports is older (kubeVersion >=1.25); 1.31 is strict enough
VALUES = sorted(p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml"))
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
#: what the Secrets named in the ci/ values hold, for the environment test
SECRETS = {
    "trustacks-github": {"private-key.pem": PEM, "webhook-secret": "gh-hook-secret-value"},
    "trustacks-gitlab": {"webhook-token": "gl-hook-token-value", "api-token": "gl-api-token-value"},
    "trustacks-postgres": {"url": "postgresql://trustacks:pw@db.internal:5432/trustacks"},
    "trustacks-status": {"token": "status-page-operator-token-value"},
}
#: the ConfigMap or Secret names the ci/ values give for the policy bundles and their public key
POLICY_BUNDLES, POLICY_KEY = "trustacks-policy", "trustacks-policy-key"
#: where the image expects them (Dockerfile ENV); the chart mounts them there
POLICY_DIR, POLICY_KEY_FILE = "/etc/trustacks/policy", "/etc/trustacks/policy-key/trustacks.pub"
#: where the chart mounts the status page's operator token (statusPage.existingSecret)
STATUS_DIR, STATUS_TOKEN_FILE = "/etc/trustacks/status", "/etc/trustacks/status/token"
SIGNED = {"github": {"appId": 1, "existingSecret": "s"},
          "policy": {"bundles": {"existingConfigMap": "p"}, "publicKey": {"existingConfigMap": "k"}}}


def values(name: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text()) or {}


@lru_cache(maxsize=None)
def _rendered(name: str) -> Rendered:
    return render_chart(CHART, values=values(name))


def objects(name: str) -> list[dict[str, Any]]:
    return copy.deepcopy(_rendered(name).objects())


def only(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objs if o["kind"] == kind]
    return found


def pod_spec(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return only(objs, "Deployment")["spec"]["template"]["spec"]


# --------------------------------------------------------------------------- validation


@lru_cache(maxsize=None)
def _definitions() -> Registry:
    versions = [v for v in kvu.all_versions() if kvu.major_minor(v) <= K8S_VERSION]
    defs = kvu.schema_contents(f"kubernetes-json-schema/v{versions[-1]}-local-strict/_definitions.json", K8S_VERSION)
    return Resource.from_contents(defs) @ Registry()


DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
DEFS = "https://kubernetes.io/api/_definitions.json#/$defs/"
#: the ServiceMonitor fields this chart sets (monitoring.coreos.com/v1; anything else is an error)
SERVICE_MONITOR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"$ref": DEFS + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {"$ref": DEFS + "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"},
                "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                    "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False, "required": ["port"],
                    "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                                   "scheme": {"enum": ["http", "https"]}, "interval": DURATION,
                                   "scrapeTimeout": DURATION, "honorLabels": {"type": "boolean"}}}},
            },
        },
    },
}


def validation_errors(obj: dict[str, Any]) -> list[str]:
    if obj["apiVersion"] == "monitoring.coreos.com/v1":
        validator = jsonschema.Draft202012Validator(SERVICE_MONITOR, registry=_definitions())
        return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'.'.join(map(str, exc.path))}: {exc.message}"]
    return []


@pytest.mark.parametrize("name", VALUES)
def test_every_object_validates(name):
    objs = objects(name)
    assert {o["kind"] for o in objs} >= {"Deployment", "Service", "ConfigMap", "ServiceAccount", "PodDisruptionBudget"}
    for obj in objs:
        assert validation_errors(obj) == [], f"{obj['kind']}/{obj['metadata']['name']}"


def test_the_validators_are_live():
    """A broken object is reported by each validator, so a clean result means something."""
    deployment = only(objects("default"), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = {"x": 1}
    assert validation_errors(deployment)
    pdb = only(objects("default"), "PodDisruptionBudget")
    pdb["spec"]["maxUnavailabel"] = 1
    assert validation_errors(pdb)
    monitor = only(objects("postgresql"), "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["interval"] = "30 seconds"
    monitor["metadata"]["labels"] = {"a": 1}
    assert len(validation_errors(monitor)) == 2


def test_values_cover_the_default_and_postgresql_releases():
    assert {"default", "postgresql"} <= set(VALUES)
    assert values("default") == {"github": {"appId": 123456, "existingSecret": "trustacks-github"},
                                 "policy": {"bundles": {"existingConfigMap": POLICY_BUNDLES},
                                            "publicKey": {"existingConfigMap": POLICY_KEY}}}
    assert values("unsigned")["policy"] == {"unsigned": True}  # the development release
    assert {o["kind"] for o in objects("postgresql")} >= {"Ingress", "ServiceMonitor"}
    assert "PersistentVolumeClaim" in {o["kind"] for o in objects("persistence")}


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({}, "github.appId is required"),
        ({"github": {"appId": 1}}, "github.existingSecret is required"),
        ({"github": {"appId": 1, "existingSecret": "s"}, "replicaCount": 2}, "replicaCount > 1 needs a shared PostgreSQL queue"),
        ({"github": {"enabled": False}}, "enable github and/or gitlab"),
        ({"github": {"enabled": False}, "gitlab": {"enabled": True}}, "gitlab.existingSecret is required"),
        ({"github": {"appId": 1, "existingSecret": "s"}, "terminationGracePeriodSeconds": 20},
         "terminationGracePeriodSeconds must exceed"),
        ({"github": {"appId": 1, "existingSecret": "s"}, "replicaCount": 0}, "replicaCount: 0 is less than the minimum"),
        ({"github": {"appId": 1, "existingSecret": "s"}, "config": {"extraEnv": {"PORT": "9"}}}, "extraEnv"),
        ({"github": {"appId": 1, "existingSecret": "s"}, "config": {"extraEnv": {"MAX_ATTEMPTS": 8}}}, "is not of type 'string'"),
        ({"github": {"appId": 1, "existingSecret": "s"}, "image": {"tag": 1.2}}, "image.tag"),
        ({"github": {"appId": 1, "existingSecret": "s"}, "replica": 2}, "Additional properties are not allowed"),
        # policy: signed bundles and their key, or the explicit development escape; never neither, never both
        ({"github": {"appId": 1, "existingSecret": "s"}},
         "policy bundles are required: trustacks serve refuses to start without signed policy"),
        ({**SIGNED, "policy": {"bundles": {"existingConfigMap": "p"}}},
         "policy.publicKey.existingConfigMap (or .existingSecret) is required with policy bundles"),
        ({**SIGNED, "policy": {"bundles": {"existingSecret": "p"}, "publicKey": {"key": "k.pub"}}},
         "policy.publicKey.existingConfigMap (or .existingSecret) is required"),
        ({**SIGNED, "policy": {"bundles": {"existingConfigMap": "p", "existingSecret": "p"},
                               "publicKey": {"existingConfigMap": "k"}}},
         "set only one of policy.bundles.existingConfigMap and policy.bundles.existingSecret"),
        ({**SIGNED, "policy": {"bundles": {"existingConfigMap": "p"},
                               "publicKey": {"existingConfigMap": "k", "existingSecret": "k"}}},
         "set only one of policy.publicKey.existingConfigMap and policy.publicKey.existingSecret"),
        ({**SIGNED, "policy": {**SIGNED["policy"], "unsigned": True}}, "(development only), not both"),
        ({"github": {"appId": 1, "existingSecret": "s"}, "policy": {"publicKey": {"existingConfigMap": "k"}, "unsigned": True}},
         "not both"),
        ({"github": {"appId": 1, "existingSecret": "s"}, "policy": {"unsigned": "yes"}}, "is not of type 'boolean'"),
        ({**SIGNED, "policy": {**SIGNED["policy"], "bundle": {"existingConfigMap": "p"}}},
         "Additional properties are not allowed"),
        ({**SIGNED, "config": {"extraEnv": {"POLICY_UNSIGNED": "true"}}}, "extraEnv"),
        ({**SIGNED, "config": {"extraEnv": {"POLICY_BUNDLE_DIR": "/tmp/mine"}}}, "extraEnv"),
        # the status page's token comes only from statusPage.existingSecret, as a mounted file
        ({**SIGNED, "config": {"extraEnv": {"STATUS_TOKEN": "0123456789abcdef0123"}}}, "extraEnv"),
        ({**SIGNED, "config": {"extraEnv": {"STATUS_TOKEN_FILE": "/tmp/token"}}}, "extraEnv"),
        ({**SIGNED, "statusPage": {"token": "0123456789abcdef0123"}}, "Additional properties are not allowed"),
        ({**SIGNED, "statusPage": {"existingSecret": "Not_A_Name"}}, "statusPage.existingSecret"),
        ({**SIGNED, "statusPage": {"existingSecret": "st", "tokenKey": ""}}, "statusPage.tokenKey"),
    ],
)
def test_unusable_values_fail_the_render_with_a_clear_message(override, message):
    with pytest.raises(Fail, match=message.replace("(", r"\(").replace(")", r"\)").replace("'", ".")):
        render_chart(CHART, values=override)


def test_several_replicas_render_with_postgresql():
    deployment = only(objects("postgresql"), "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert only(objects("default"), "Deployment")["spec"]["strategy"] == {"type": "Recreate"}  # one SQLite file


# --------------------------------------------------------------------------- the pod


@pytest.mark.parametrize("name", VALUES)
def test_pod_is_locked_down(name):
    spec = pod_spec(objects(name))
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    pod_sc = spec["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] >= 10000 and pod_sc["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = spec["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    # writable places on a read-only root: /tmp and the data dir, both volumes
    volumes = {v["name"]: v for v in spec["volumes"]}
    writable = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert set(writable) == {"/tmp", "/var/lib/trustacks"}
    assert "emptyDir" in writable["/tmp"]
    # secrets are files readable by the pod's group only, never environment values
    for v in volumes.values():
        if "secret" in v:
            assert v["secret"]["defaultMode"] == 0o440 and pod_sc["fsGroup"] == pod_sc["runAsGroup"]
    for entry in container.get("env", []):
        assert entry["name"] == "TRUSTACKS_DATABASE_URL", "only the database URL comes from an env secret"


@pytest.mark.parametrize("name", VALUES)
def test_probes_hit_the_service_endpoints_on_the_listening_port(name):
    (container,) = pod_spec(objects(name))["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    config = only(objects(name), "ConfigMap")["data"]
    assert ports["http"] == int(config["TRUSTACKS_PORT"])
    service = only(objects(name), "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= only(objects(name), "Deployment")["spec"]["template"]["metadata"]["labels"].items()


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict[tuple[str, str], dict[str, str | bytes]]:
    """What the ConfigMaps and Secrets named in the ci/ values hold: the webhook Secrets above, and a
    real signed release of every shipped pack with its constitution pin, as an operator makes it
    (`trustacks keys generate`, `bundle release`, `constitution upgrade`)."""
    work = tmp_path_factory.mktemp("release")
    keys, out = work / "keys", work / "bundles"
    for argv in (["keys", "generate", "--out-dir", str(keys)],
                 ["bundle", "release", "--revision", "1.0.0", "--key", str(keys / "trustacks.key"), "--out", str(out)],
                 ["constitution", "upgrade", "--to", "1.0.0", "--bundle", str(out / trusted.CONSTITUTION_FILE),
                  "--public-key", str(keys / "trustacks.pub"), "--pin", str(out / trusted.PIN_FILE)]):
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
        assert result.exit_code == 0, f"trustacks {' '.join(argv)}: {result.output}"
    files: dict[str, str | bytes] = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {trusted.CONSTITUTION_FILE, trusted.PIN_FILE, "packs-soc2.tar.gz", "packs-pci.tar.gz"} <= set(files)
    public_pem = (keys / "trustacks.pub").read_bytes()
    sources: dict[tuple[str, str], dict[str, str | bytes]] = {("secret", k): dict(v) for k, v in SECRETS.items()}
    for kind in ("configMap", "secret"):
        sources[(kind, POLICY_BUNDLES)] = files
        sources[(kind, POLICY_KEY)] = {"trustacks.pub": public_pem, "policy.pub": public_pem}
    return sources


def image_environment() -> dict[str, str]:
    """The TRUSTACKS_* variables the image sets (Dockerfile ENV of the final stage)."""
    instructions = read_dockerfile(ROOT / "Dockerfile")
    final = [i for i in instructions if i.stage == max(i.stage for i in instructions)]
    return {k: v for i in final if i.keyword == "ENV" for k, v in i.pairs().items() if k.startswith("TRUSTACKS_")}


def _project(local: Path, files: dict[str, str | bytes]) -> None:
    """Write a volume's files as the kubelet does: in a timestamped directory behind `..data`, each
    visible name a symlink into it (https://kubernetes.io/docs/concepts/configuration/configmap/)."""
    stamp = local / "..2026_11_23_14_00_00.000000001"
    stamp.mkdir(parents=True)
    for name, content in files.items():
        (stamp / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    (local / "..data").symlink_to(stamp.name)
    for name in files:
        (local / name).symlink_to(f"..data/{name}")


def container_environment(objs: list[dict[str, Any]], root: Path,
                          sources: dict[tuple[str, str], dict[str, str | bytes]]) -> dict[str, str]:
    """The container's TRUSTACKS_* environment as Kubernetes would build it over the image's, with
    every mounted path (secret and ConfigMap volumes, the data dir) mapped under `root` and each
    volume filled from `sources` ((kind, name) -> key -> content)."""
    spec = pod_spec(objs)
    (container,) = spec["containers"]
    config_map = only(objs, "ConfigMap")
    env: dict[str, str] = dict(image_environment())  # the container's variables win over the image's
    for source in container["envFrom"]:
        assert source["configMapRef"]["name"] == config_map["metadata"]["name"]
        env.update(config_map["data"])
    for entry in container.get("env", []):
        ref = entry["valueFrom"]["secretKeyRef"]
        env[entry["name"]] = str(sources[("secret", ref["name"])][ref["key"]])
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {}
    for mount in container["volumeMounts"]:
        local = root / mount["mountPath"].lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = local
        volume = volumes[mount["name"]]
        kind = next((k for k in ("secret", "configMap") if k in volume), None)
        if kind is None:
            continue
        name = volume[kind]["secretName" if kind == "secret" else "name"]
        data = sources[(kind, name)]
        items = volume[kind].get("items") or [{"key": key, "path": key} for key in data]  # no items: every key
        _project(local, {item["path"]: data[item["key"]] for item in items})
    for key, value in env.items():
        for path, local in mounts.items():
            if value == path or value.startswith(path + "/"):
                env[key] = str(local) + value[len(path):]
    return env


@pytest.mark.parametrize("name", VALUES)
def test_container_environment_is_a_valid_service_configuration(name, tmp_path, released):
    objs = objects(name)
    env = container_environment(objs, tmp_path, released)
    settings = load_settings(env=env)
    assert settings.warnings == (), "every TRUSTACKS_* the chart sets is a real setting"
    assert settings.host == "0.0.0.0"
    v = values(name)
    if v.get("github", {}).get("enabled", True):
        assert settings.github_app_id == int(v["github"]["appId"])
        assert settings.github_webhook_secret.reveal() == SECRETS["trustacks-github"]["webhook-secret"]
        assert settings.github_private_key is not None
    if v.get("gitlab", {}).get("enabled"):
        assert settings.gitlab_webhook_token.reveal() == SECRETS["trustacks-gitlab"]["webhook-token"]
        assert settings.gitlab_api_token.reveal() == SECRETS["trustacks-gitlab"]["api-token"]
    if v.get("statusPage", {}).get("existingSecret"):
        assert settings.status_token.reveal() == SECRETS[v["statusPage"]["existingSecret"]]["token"]
    else:
        assert settings.status_token is None, "no token, no status page"
    expected_db = "postgresql" if v.get("database", {}).get("existingSecret") else "sqlite"
    assert settings.database_kind == expected_db
    if expected_db == "sqlite":  # the queue file is on the data volume, not the read-only root
        assert str(settings.database_url).startswith(f"sqlite:///{tmp_path}/var/lib/trustacks/")
    grace = pod_spec(objs)["terminationGracePeriodSeconds"]
    assert grace > settings.shutdown_grace_seconds, "the drain finishes before SIGKILL"


@pytest.mark.parametrize("name", VALUES)
def test_the_pod_loads_its_policy_as_serve_does(name, tmp_path, released):
    """The settings the pod gets load policy the way `trustacks serve` loads it (build_dispatcher's
    arguments): signed bundles verified through the mounted (symlinked) volumes, or, for the
    development values only, the unsigned rules with the image's bundle paths cleared."""
    settings = load_settings(env=container_environment(objects(name), tmp_path, released))
    assert tuple(settings.packs) == tuple(values(name).get("config", {}).get("policyPacks", ()))
    engine = trusted.load_service_policy(
        bundle_dir=settings.policy_bundle_dir, public_key_file=settings.policy_public_key_file,
        pin_file=settings.constitution_pin_file, packs=settings.packs, unsigned=settings.policy_unsigned)
    source = engine.provenance
    if values(name).get("policy", {}).get("unsigned"):
        assert settings.policy_unsigned and settings.policy_bundle_dir is None and settings.policy_public_key_file is None
        assert source.startswith("UNSIGNED")
    else:
        assert not settings.policy_unsigned
        assert settings.policy_bundle_dir == tmp_path / POLICY_DIR.lstrip("/")
        assert settings.policy_public_key_file == tmp_path / POLICY_KEY_FILE.lstrip("/")
        assert source.startswith("signed bundles verified (constitution 1.0.0")
        for pack in settings.packs:
            assert f"packs/{pack} 1.0.0" in source
    assert engine is not None


def pod_wiring(objs: list[dict]) -> tuple[dict, dict, dict]:
    """The chart ConfigMap's data, the pod's volumes by name and the container's mounts by path."""
    spec = pod_spec(objs)
    (container,) = spec["containers"]
    return (only(objs, "ConfigMap")["data"], {v["name"]: v for v in spec["volumes"]},
            {m["mountPath"]: m for m in container["volumeMounts"]})


@pytest.mark.parametrize("name", VALUES)
def test_policy_volumes_mounts_and_environment(name):
    config, volumes, mounts = pod_wiring(objects(name))
    policy = values(name)["policy"]
    if policy.get("unsigned"):
        assert not {"policy", "policy-key"} & set(volumes)
        assert not [p for p in mounts if p.startswith("/etc/trustacks/policy")]
        # the image's bundle paths are cleared (empty = unset), else serve refuses "not both"
        assert config["TRUSTACKS_POLICY_UNSIGNED"] == "true"
        assert config["TRUSTACKS_POLICY_BUNDLE_DIR"] == config["TRUSTACKS_POLICY_PUBLIC_KEY_FILE"] == ""
        return
    assert "TRUSTACKS_POLICY_UNSIGNED" not in config
    assert config["TRUSTACKS_POLICY_BUNDLE_DIR"] == POLICY_DIR
    assert config["TRUSTACKS_POLICY_PUBLIC_KEY_FILE"] == POLICY_KEY_FILE
    assert mounts[POLICY_DIR] == {"name": "policy", "mountPath": POLICY_DIR, "readOnly": True}
    assert mounts[POLICY_KEY_FILE.rsplit("/", 1)[0]] == {"name": "policy-key", "mountPath": POLICY_KEY_FILE.rsplit("/", 1)[0],
                                                        "readOnly": True}
    for volume, given in (("policy", policy["bundles"]), ("policy-key", policy["publicKey"])):
        if given.get("existingSecret"):
            assert volumes[volume]["secret"]["secretName"] == given["existingSecret"]
        else:
            assert volumes[volume]["configMap"]["name"] == given["existingConfigMap"]
    # every bundle file, whatever the packs: the whole object; the key under one known file name
    bundles = volumes["policy"].get("secret") or volumes["policy"]["configMap"]
    assert "items" not in bundles
    key = volumes["policy-key"].get("secret") or volumes["policy-key"]["configMap"]
    assert key["items"] == [{"key": policy["publicKey"].get("key", "trustacks.pub"), "path": "trustacks.pub"}]


@pytest.mark.parametrize("name", VALUES)
def test_status_page_token_volume_mount_and_environment(name):
    """With statusPage.existingSecret: that Secret's token key, read-only (0440) at STATUS_TOKEN_FILE,
    and TRUSTACKS_STATUS_TOKEN_FILE naming it. Without: no volume, no mount, no variable (no page)."""
    objs = objects(name)
    config, volumes, mounts = pod_wiring(objs)
    secret = values(name).get("statusPage", {}).get("existingSecret")
    assert not [k for k in config if k.startswith("TRUSTACKS_STATUS_TOKEN") and k != "TRUSTACKS_STATUS_TOKEN_FILE"]
    if not secret:
        assert "status" not in volumes and STATUS_DIR not in mounts
        assert "TRUSTACKS_STATUS_TOKEN_FILE" not in config
        return
    assert config["TRUSTACKS_STATUS_TOKEN_FILE"] == STATUS_TOKEN_FILE
    assert mounts[STATUS_DIR] == {"name": "status", "mountPath": STATUS_DIR, "readOnly": True}
    assert volumes["status"] == {"name": "status", "secret": {
        "secretName": secret, "defaultMode": 0o440, "items": [{"key": "token", "path": "token"}]}}
    for value in SECRETS[secret].values():  # the token is a file, never a ConfigMap value
        assert value not in json.dumps(objs)


def test_status_page_token_key_is_a_value():
    """A Secret made elsewhere (External Secrets, Sealed Secrets) with another key name still lands at
    /etc/trustacks/status/token, and the release validates."""
    objs = render_chart(CHART, values={**SIGNED, "statusPage": {"existingSecret": "ops-status",
                                                               "tokenKey": "operator.token"}}).objects()
    for obj in objs:
        assert validation_errors(obj) == [], f"{obj['kind']}/{obj['metadata']['name']}"
    volumes = {v["name"]: v for v in pod_spec(objs)["volumes"]}
    assert volumes["status"]["secret"]["items"] == [{"key": "operator.token", "path": "token"}]
    assert only(objs, "ConfigMap")["data"]["TRUSTACKS_STATUS_TOKEN_FILE"] == STATUS_TOKEN_FILE


def test_the_pod_loads_its_status_token(tmp_path, released):
    """The rendered environment and the mounted Secret (the kubelet's symlinked layout, as for the
    policy volumes) load into settings.status_token: the file's trailing newline dropped, nothing
    else; the smallest release has no token, so no status page."""
    token = "0123456789abcdef0123456789abcdef"
    sources = {**released, ("secret", "ops-status"): {"operator.token": token + "\n"}}
    objs = render_chart(CHART, values={**values("default"), "statusPage": {"existingSecret": "ops-status",
                                                                          "tokenKey": "operator.token"}}).objects()
    env = container_environment(objs, tmp_path / "with", sources)
    local = tmp_path / "with" / STATUS_TOKEN_FILE.lstrip("/")
    assert env["TRUSTACKS_STATUS_TOKEN_FILE"] == str(local) and local.is_symlink()
    assert "TRUSTACKS_STATUS_TOKEN" not in env
    settings = load_settings(env=env)
    assert settings.warnings == ()
    assert settings.status_token is not None and settings.status_token.reveal() == token
    assert token not in repr(settings.status_token)
    without = load_settings(env=container_environment(objects("default"), tmp_path / "without", sources))
    assert without.status_token is None


def test_chart_mounts_policy_where_the_image_expects_it():
    image = image_environment()
    assert image["TRUSTACKS_POLICY_BUNDLE_DIR"] == POLICY_DIR
    assert image["TRUSTACKS_POLICY_PUBLIC_KEY_FILE"] == POLICY_KEY_FILE


def test_config_checksum_rolls_the_pods_when_settings_change():
    def checksum(override: dict[str, Any]) -> str:
        base = SIGNED
        rendered = render_chart(CHART, values={**base, **override})
        return only(rendered.objects(), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum({}) == checksum({})
    assert checksum({}) != checksum({"config": {"logLevel": "DEBUG"}})


def test_ingress_routes_only_the_webhooks():
    ingress = only(objects("postgresql"), "Ingress")
    (rule,) = ingress["spec"]["rules"]
    assert [(p["path"], p["pathType"]) for p in rule["http"]["paths"]] == [("/webhooks", "Prefix")]
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]


def test_image_reference():
    (container,) = pod_spec(objects("default"))["containers"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert container["image"] == f"ghcr.io/trustacks/trustacks:{chart['appVersion']}"
    (pinned,) = pod_spec(objects("postgresql"))["containers"]
    assert pinned["image"] == "ghcr.io/trustacks/trustacks@" + values("postgresql")["image"]["digest"]


def test_notes_render_and_name_the_webhook_urls():
    assert "https://trustacks.acme.example/webhooks/github" in _rendered("postgresql").notes
    assert "emptyDir" in _rendered("default").notes  # the SQLite-in-emptyDir caveat is spelled out


def test_notes_say_where_policy_comes_from():
    notes = _rendered("postgresql").notes
    assert "signed bundles from ConfigMap trustacks-policy" in notes and "packs-<name>.tar.gz for soc2, pci" in notes
    assert "rollout restart deployment/trustacks" in notes  # policy loads once: a new release needs a restart
    assert "Secret trustacks-policy" in _rendered("persistence").notes
    assert "UNSIGNED" in _rendered("unsigned").notes and "Development only" in _rendered("unsigned").notes


def test_notes_say_how_to_reach_the_status_page():
    notes = _rendered("postgresql").notes
    assert "Status page (read-only; token from Secret trustacks-status, key token)" in notes
    assert "The Ingress does not route it" in notes
    assert "port-forward service/trustacks 8080:80" in notes
    assert "get secret trustacks-status -o jsonpath='{.data.token}'" in notes
    assert "Status page: off. Set statusPage.existingSecret" in _rendered("default").notes
    dotted = render_chart(CHART, values={**SIGNED, "statusPage": {"existingSecret": "st", "tokenKey": "a.b"}}).notes
    assert "jsonpath='{.data.a\\.b}'" in dotted  # kubectl's jsonpath needs the dot escaped


def test_schema_is_valid_and_defaults_pass_it():
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))
