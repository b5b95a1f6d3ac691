"""Where the image goes and how a pipeline logs in to push it with a short-lived OIDC credential only.

Each registry names the repository an image is pushed to (`settings.host`, `settings.namespace` in the
Profile entry, or the registry's public default) and the OIDC federation that gets a push token at run
time: AWS web identity for ECR, Entra ID workload identity federation for ACR, Google workload identity
federation for GAR, Quay robot-account federation, JFrog OIDC token exchange, and the job's own token for
GHCR on GitHub Actions. There is no static-key fallback: a registry that offers no federation (Docker Hub,
Harbor), or GHCR outside GitHub Actions, yields a Gap and a pipeline that builds and scans but does not push.

Identity settings that are not secrets (role ARN, client id, workload identity provider) come from the
entry's settings, else from a CI variable of a conventional name, so the file is valid either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.generate.base import Context, Gap
from bot.profile import ToolEntry

#: pinned images for the login helpers on runners that run tools in containers
AWS_CLI_IMAGE = "amazon/aws-cli:2.22.35"
AZURE_CLI_IMAGE = "mcr.microsoft.com/azure-cli:2.67.0"
GCLOUD_IMAGE = "gcr.io/google.com/cloudsdktool/google-cloud-cli:502.0.0-slim"
CURL_IMAGE = "curlimages/curl:8.11.1"

DEFAULT_HOSTS = {"ghcr": "ghcr.io", "dockerhub": "docker.io", "quay": "quay.io"}
NEEDS_HOST = {"ecr", "acr", "gar", "harbor", "artifactory"}
NO_FEDERATION = {
    "dockerhub": "Docker Hub offers no OIDC workload federation",
    "harbor": "Harbor offers no OIDC workload federation for CI robots",
}
#: the token audience each federation expects unless settings.audience says otherwise
AUDIENCES = {
    "ecr": "sts.amazonaws.com",
    "acr": "api://AzureADTokenExchange",
    "quay": "quay",
    "artifactory": "jfrog",
}

_ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


@dataclass(frozen=True)
class Password:
    """Shell run inside `image` that prints a short-lived registry password from the OIDC token in `$OIDC_TOKEN`.

    The token travels as an environment variable only (never argv, never a mounted file), so the same
    script works under `docker run -e`, in a docker-in-docker job and in a Tekton step.
    """

    image: str
    script: str
    username: str
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Registry:
    entry: ToolEntry
    host: str  # the docker login host
    image: str  # repository without tag, e.g. 123.dkr.ecr.eu-west-1.amazonaws.com/team/api
    audience: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    push_gap: str = ""  # why this pipeline cannot push (empty when it can)

    @property
    def tool(self) -> str:
        return self.entry.tool

    def can_push(self, ci_tool: str | None) -> bool:
        return not self.push_gap and not (self.tool == "ghcr" and ci_tool != "github-actions")

    def setting(self, key: str, variable: str) -> str:
        """A non-secret identity setting, or a `${VARIABLE}` reference the CI fills in."""
        value = self.settings.get(key)
        return str(value) if value not in (None, "") else "${" + variable + "}"


def _owner(repo: str) -> str:
    return repo.split("/", 1)[0].lower()


def resolve(ctx: Context) -> tuple[Registry | None, list[Gap]]:
    """The Profile's first registry as an image repository and login plan, with gaps for what is missing."""
    entry = ctx.first("registry")
    if entry is None:
        return None, [Gap("registry", "the Profile names no container registry: the pipeline builds and scans "
                          "the image but does not push or sign it; add tooling.registry (e.g. ecr with "
                          "settings.host)", "ci")]
    settings = {k: str(v) for k, v in entry.settings.items() if v is not None}
    tool = entry.tool
    host = settings.get("host", DEFAULT_HOSTS.get(tool, "")).strip().rstrip("/")
    host = re.sub(r"^https?://", "", host)
    gaps: list[Gap] = []
    if not host:
        what = "registry host" if tool in NEEDS_HOST else "host"
        gaps.append(Gap("registry", f"{entry.ref}: {tool} needs settings.host (the {what}, e.g. "
                        f"{_example_host(tool)}); the pipeline builds and scans but does not push", "ci"))
        return Registry(entry, "", ctx.service.name, settings=settings, push_gap="no host"), gaps
    namespace = settings.get("namespace", "").strip("/")
    if not namespace and tool in ("ghcr", "dockerhub", "quay"):
        namespace = _owner(ctx.service.repo)
    if tool == "artifactory":
        namespace = settings.get("repository", namespace).strip("/")
    image = "/".join(p for p in (host, namespace, ctx.service.name) if p)
    login_host = host.split("/", 1)[0]
    push_gap = ""
    if tool in NO_FEDERATION:
        push_gap = NO_FEDERATION[tool]
        gaps.append(Gap("registry", f"{entry.ref}: {push_gap}; pushing would need a long-lived credential, which "
                        "the constitution forbids. The pipeline builds, scans and inventories the image but does "
                        "not push or sign it; name a registry with OIDC federation (ECR, ACR, GAR, Quay, "
                        "Artifactory, or GHCR on GitHub Actions)", "ci"))
    elif tool not in ("ecr", "acr", "gar", "ghcr", "quay", "artifactory"):
        push_gap = f"no OIDC login known for registry {tool!r}"
        gaps.append(Gap("registry", f"{entry.ref}: TruStacks has no OIDC login for registry {tool!r}; the "
                        "pipeline builds and scans but does not push", "ci"))
    elif tool == "ghcr" and ctx.ci_tool not in (None, "github-actions"):
        gaps.append(Gap("registry", f"{entry.ref}: GHCR accepts short-lived tokens only from GitHub Actions; "
                        f"from {ctx.ci_tool} it would need a personal access token, which the constitution "
                        "forbids. The pipeline builds and scans but does not push", "ci"))
    if tool == "ecr" and "region" not in settings:
        m = _ECR_HOST.match(login_host)
        if m:
            settings["region"] = m.group(1)
    audience = settings.get("audience") or AUDIENCES.get(tool, "")
    if tool == "gar" and not audience:
        provider = settings.get("workload_identity_provider", "")
        audience = f"//iam.googleapis.com/{provider}" if provider else "${GCP_WIF_AUDIENCE}"
    return Registry(entry, login_host, image, audience, settings, push_gap), gaps


def _example_host(tool: str) -> str:
    return {
        "ecr": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "acr": "myteam.azurecr.io",
        "gar": "europe-west1-docker.pkg.dev/my-project/images",
        "harbor": "harbor.example.com/project",
        "artifactory": "example.jfrog.io",
    }.get(tool, "registry.example.com")


def password(reg: Registry) -> Password:
    """How to turn the OIDC token in `$OIDC_TOKEN` into a registry password, for runners without native actions."""
    if reg.tool == "ecr":
        region = reg.setting("region", "AWS_REGION")
        return Password(
            AWS_CLI_IMAGE,
            "umask 077 && printf '%s' \"$OIDC_TOKEN\" > /tmp/oidc-token && aws ecr get-login-password",
            "AWS",
            (("AWS_ROLE_ARN", reg.setting("role_arn", "AWS_ROLE_ARN")), ("AWS_WEB_IDENTITY_TOKEN_FILE", "/tmp/oidc-token"),
             ("AWS_ROLE_SESSION_NAME", "trustacks-ci"), ("AWS_REGION", region)),
        )
    if reg.tool == "acr":
        name = reg.settings.get("name") or reg.host.split(".", 1)[0]
        return Password(
            AZURE_CLI_IMAGE,
            'az login --service-principal --username "$AZURE_CLIENT_ID" --tenant "$AZURE_TENANT_ID" '
            '--federated-token "$OIDC_TOKEN" --allow-no-subscriptions >/dev/null && '
            f"az acr login --name {name} --expose-token --output tsv --query accessToken",
            "00000000-0000-0000-0000-000000000000",
            (("AZURE_CLIENT_ID", reg.setting("client_id", "AZURE_CLIENT_ID")),
             ("AZURE_TENANT_ID", reg.setting("tenant_id", "AZURE_TENANT_ID"))),
        )
    if reg.tool == "gar":
        return Password(
            GCLOUD_IMAGE,
            "umask 077 && printf '%s' \"$OIDC_TOKEN\" > /tmp/oidc-token && "
            'gcloud iam workload-identity-pools create-cred-config "$GCP_WORKLOAD_IDENTITY_PROVIDER" '
            '--service-account="$GCP_SERVICE_ACCOUNT" --credential-source-file=/tmp/oidc-token '
            "--output-file=/tmp/gcp-credentials.json >/dev/null && "
            "gcloud auth login --cred-file=/tmp/gcp-credentials.json --quiet >/dev/null 2>&1 && "
            "gcloud auth print-access-token",
            "oauth2accesstoken",
            (("GCP_WORKLOAD_IDENTITY_PROVIDER", reg.setting("workload_identity_provider", "GCP_WORKLOAD_IDENTITY_PROVIDER")),
             ("GCP_SERVICE_ACCOUNT", reg.setting("service_account", "GCP_SERVICE_ACCOUNT"))),
        )
    if reg.tool == "quay":
        robot = reg.setting("robot_account", "QUAY_ROBOT_ACCOUNT")
        return Password(
            CURL_IMAGE,
            f'curl -fsS -u "$QUAY_ROBOT_ACCOUNT:$OIDC_TOKEN" "https://{reg.host}/oauth2/federation/robot/token"'
            " | sed -n 's/.*\"token\" *: *\"\\([^\"]*\\)\".*/\\1/p'",
            robot,
            (("QUAY_ROBOT_ACCOUNT", robot),),
        )
    if reg.tool == "artifactory":
        provider = reg.setting("oidc_provider", "JFROG_OIDC_PROVIDER")
        return Password(
            CURL_IMAGE,
            "printf '{\"grant_type\":\"urn:ietf:params:oauth:grant-type:token-exchange\","
            "\"subject_token_type\":\"urn:ietf:params:oauth:token-type:id_token\","
            "\"subject_token\":\"%s\",\"provider_name\":\"%s\"}' \"$OIDC_TOKEN\" \"$JFROG_OIDC_PROVIDER\""
            f' | curl -fsS -X POST -H "Content-Type: application/json" -d @- "https://{reg.host}/access/api/v1/oidc/token"'
            " | sed -n 's/.*\"access_token\" *: *\"\\([^\"]*\\)\".*/\\1/p'",
            reg.setting("username", "JFROG_OIDC_USER"),
            (("JFROG_OIDC_PROVIDER", provider),),
        )
    raise ValueError(f"no OIDC login for registry {reg.tool!r}")
