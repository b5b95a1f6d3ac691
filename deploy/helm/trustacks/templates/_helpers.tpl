{{/*
Names, labels and the checks that refuse unusable values. Helm renders these partials into the
other templates; nothing here is a manifest.
*/}}

{{- define "trustacks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "trustacks.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "trustacks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trustacks.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "trustacks.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "trustacks.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "trustacks.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "trustacks.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "trustacks.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* "true" when the queue is SQLite in the data volume (no database Secret), else "". */}}
{{- define "trustacks.sqlite" -}}
{{- if not .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* "true" when policy comes from signed bundles (policy.bundles.*), else "". */}}
{{- define "trustacks.signedPolicy" -}}
{{- if or .Values.policy.bundles.existingConfigMap .Values.policy.bundles.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* Values the bot cannot run with fail the render, each message saying what to set. */}}
{{- define "trustacks.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (include "trustacks.sqlite" .) -}}
{{- fail "replicaCount > 1 needs a shared PostgreSQL queue: set database.existingSecret to a Secret whose key database.urlKey holds postgresql://user:password@host:5432/dbname (SQLite serves one replica only)" -}}
{{- end -}}
{{- if not (or .Values.github.enabled .Values.gitlab.enabled) -}}
{{- fail "enable github and/or gitlab: trustacks serve refuses to start without a webhook secret" -}}
{{- end -}}
{{- if .Values.github.enabled -}}
{{- $_ := required "github.appId is required: the GitHub App's id (`trustacks setup github` prints it)" .Values.github.appId -}}
{{- $_ := required "github.existingSecret is required: a Secret holding the App's private key and webhook secret (docs/install.md)" .Values.github.existingSecret -}}
{{- end -}}
{{- if and .Values.gitlab.enabled (not .Values.gitlab.existingSecret) -}}
{{- fail "gitlab.existingSecret is required: a Secret holding the GitLab webhook token and API token (docs/install.md)" -}}
{{- end -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (int .Values.config.shutdownGraceSeconds) -}}
{{- fail "terminationGracePeriodSeconds must exceed config.shutdownGraceSeconds, or running jobs are killed before they drain" -}}
{{- end -}}
{{- /* policy: trustacks serve refuses to start without signed bundles (or the development escape) */ -}}
{{- $bundles := .Values.policy.bundles -}}
{{- $key := .Values.policy.publicKey -}}
{{- if and $bundles.existingConfigMap $bundles.existingSecret -}}
{{- fail "set only one of policy.bundles.existingConfigMap and policy.bundles.existingSecret" -}}
{{- end -}}
{{- if and $key.existingConfigMap $key.existingSecret -}}
{{- fail "set only one of policy.publicKey.existingConfigMap and policy.publicKey.existingSecret" -}}
{{- end -}}
{{- if .Values.policy.unsigned -}}
{{- if or (include "trustacks.signedPolicy" .) $key.existingConfigMap $key.existingSecret -}}
{{- fail "set either policy.bundles and policy.publicKey (signed bundles) or policy.unsigned (development only), not both" -}}
{{- end -}}
{{- else -}}
{{- if not (include "trustacks.signedPolicy" .) -}}
{{- fail "policy bundles are required: trustacks serve refuses to start without signed policy. Set policy.bundles.existingConfigMap (or .existingSecret) to the files `trustacks bundle release` and `trustacks constitution upgrade` wrote, and policy.publicKey.existingConfigMap (or .existingSecret) to the public key (docs/install.md, \"Policy bundles\"); policy.unsigned=true is for development only" -}}
{{- end -}}
{{- if not (or $key.existingConfigMap $key.existingSecret) -}}
{{- fail "policy.publicKey.existingConfigMap (or .existingSecret) is required with policy bundles: the public key the bundles are signed for (docs/install.md, \"Policy bundles\")" -}}
{{- end -}}
{{- end -}}
{{- end -}}
