"""Helm chart per service (`<gitops_path>/<service>/chart/`): Chart.yaml, values, per-environment values, templates.

The templates are fixed text (below) driven entirely by values.yaml, which k8s.py builds from the
Profile: image repository from the registry, Ingress class and host from nginx/traefik, a VirtualService
and sidecar injection for Istio, the Linkerd inject annotation, Prometheus scrape annotations. The
templates use a small subset of Go templates (`include`, `toYaml`, `nindent`, `default`, `quote`, `if`),
so the tests can render them and prove they produce exactly k8s.objects().
Chart format: https://helm.sh/docs/topics/charts/
"""

from __future__ import annotations

from typing import Any

from bot.generate import k8s
from bot.generate.base import Context, GeneratedFile, Generator, Output, dump_yaml, generated_by, join_path

ARTIFACT = "helm"

HELPERS = """\
{{/* Names and labels shared by every template. */}}
{{- define "CHART.fullname" -}}
{{- .Values.fullnameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "CHART.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "CHART.labels" -}}
{{ include "CHART.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "CHART.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      {{- if .Values.podAnnotations }}
      annotations:
        {{- toYaml .Values.podAnnotations | nindent 8 }}
      {{- end }}
      labels:
        {{- include "CHART.selectorLabels" . | nindent 8 }}
    spec:
      serviceAccountName: {{ include "CHART.fullname" . }}
      automountServiceAccountToken: {{ .Values.serviceAccount.automount }}
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .Values.containerPort }}
              protocol: TCP
          livenessProbe:
            {{- toYaml .Values.livenessProbe | nindent 12 }}
          readinessProbe:
            {{- toYaml .Values.readinessProbe | nindent 12 }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {}
"""

HPA = """\
{{- if .Values.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "CHART.fullname" . }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
"""

INGRESS = """\
{{- if .Values.ingress.enabled }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
  {{- if .Values.ingress.annotations }}
  annotations:
    {{- toYaml .Values.ingress.annotations | nindent 4 }}
  {{- end }}
spec:
  ingressClassName: {{ .Values.ingress.className }}
  {{- if .Values.ingress.tls }}
  tls:
    - hosts:
        - {{ .Values.ingress.host | quote }}
      secretName: {{ include "CHART.fullname" . }}-tls
  {{- end }}
  rules:
    - host: {{ .Values.ingress.host | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ include "CHART.fullname" . }}
                port:
                  name: http
{{- end }}
"""

NETWORKPOLICY = """\
{{- if .Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "CHART.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    - from:
        {{- toYaml .Values.networkPolicy.from | nindent 8 }}
      ports:
        - port: http
          protocol: TCP
{{- end }}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "CHART.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
"""

SERVICEACCOUNT = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
  {{- if .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml .Values.serviceAccount.annotations | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ .Values.serviceAccount.automount }}
"""

VIRTUALSERVICE = """\
{{- if .Values.virtualService.enabled }}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  hosts:
    - {{ .Values.virtualService.host | quote }}
  gateways:
    {{- toYaml .Values.virtualService.gateways | nindent 4 }}
  http:
    - route:
        - destination:
            host: {{ include "CHART.fullname" . }}
            port:
              number: {{ .Values.service.port }}
{{- end }}
"""

HELMIGNORE = ".git/\n.DS_Store\n*.swp\n*.tmp\n*.orig\n.idea/\n.vscode/\n"

#: template file -> text; `virtualservice.yaml` only when the Profile names Istio
TEMPLATES: dict[str, str] = {
    "_helpers.tpl": HELPERS,
    "deployment.yaml": DEPLOYMENT,
    "hpa.yaml": HPA,
    "ingress.yaml": INGRESS,
    "networkpolicy.yaml": NETWORKPOLICY,
    "service.yaml": SERVICE,
    "serviceaccount.yaml": SERVICEACCOUNT,
    "virtualservice.yaml": VIRTUALSERVICE,
}

VALUE_COMMENTS = [
    "Values for the chart; per-environment files (values-<env>.yaml) override them.",
    "image.tag: CI pushes <repository>:<git sha> and signs it; set the tag (or use a digest) to deploy a build.",
]


def chart_dir(ctx: Context) -> str:
    return join_path(ctx.gitops_path, ctx.service.name, "chart")


def chart_yaml(ctx: Context) -> dict[str, Any]:
    svc = ctx.service
    what = f"{svc.framework or svc.language or 'service'}"
    return {"apiVersion": "v2", "name": svc.name, "description": f"{svc.name} ({what}), generated by TruStacks",
            "type": "application", "version": k8s.CHART_VERSION, "appVersion": k8s.APP_VERSION}


def template_text(name: str, chart: str) -> str:
    return TEMPLATES[name].replace("CHART.", f"{chart}.")


def render(ctx: Context) -> Output:
    wl = k8s.values(ctx, artifact=ARTIFACT)
    base = chart_dir(ctx)
    svc = ctx.service.name
    files: list[GeneratedFile] = []

    def add(name: str, content: str, kinds: tuple[str, ...] = ()) -> None:
        path = join_path(base, name)
        files.append(GeneratedFile(path, content, ARTIFACT, "platform", wl.tool_choices(path, kinds=kinds)))

    comment = generated_by(ctx.profile, f"Helm chart for {svc}.")
    add("Chart.yaml", dump_yaml(chart_yaml(ctx), comment=comment))
    add("values.yaml", dump_yaml(wl.values, comment=[*comment, *VALUE_COMMENTS]), ("values",))
    for env in ctx.environments:
        add(f"values-{env}.yaml", dump_yaml(k8s.env_overrides(wl, env, ctx),
                                            comment=[f"{env}: overrides of values.yaml", *comment[1:]]), ("values",))
    add(".helmignore", HELMIGNORE)
    for name in TEMPLATES:
        if name == "virtualservice.yaml" and not ctx.has("mesh_ingress", "istio"):
            continue
        kinds = {"ingress.yaml": ("ingress",), "virtualservice.yaml": ("virtualservice",)}.get(name, ())
        add(f"templates/{name}", template_text(name, svc), kinds)
    return Output(files, wl.gaps)


GENERATOR = Generator(name="helm", artifact=ARTIFACT, selects=lambda ctx: ctx.profile.deploy_with == "helm",
                      render=render, doc="Helm chart")
