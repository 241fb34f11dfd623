{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "omkc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release name, plus the chart name unless the release already contains it. */}}
{{- define "omkc.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "omkc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "omkc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "omkc.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "omkc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "omkc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "omkc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "omkc.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The RBAC rules, shared by the ClusterRole (all namespaces) and the per-namespace Roles.
tests/it/controller_loop.rs derives the same set from the requests the operator really makes.
*/}}
{{- define "omkc.rules" -}}
# The custom resources: list and watch feed the controller's cache; patch adds and removes
# the omkc.dev/cleanup finalizer. The operator never writes spec, and never gets, creates,
# updates or deletes the resources.
- apiGroups: ["omkc.dev"]
  resources: ["openmetadatakeycloakclients"]
  verbs: ["list", "watch", "patch"]
# Status is a subresource: patched with Ready, observedGeneration and the OpenMetadata values.
- apiGroups: ["omkc.dev"]
  resources: ["openmetadatakeycloakclients/status"]
  verbs: ["patch"]
# Secrets. get: read the Keycloak admin credentials a resource names, and check that an
# existing output Secret belongs to the resource before writing it. create + patch: the
# output Secret is written with server-side apply, authorised as create when it makes the
# Secret and as patch when it updates it. delete: remove the operator's own old output
# Secret after spec.secret.name changes. list + watch: metadata-only watches of the output
# Secrets (restored when deleted or edited) and of credentials Secrets (a rotated password
# is picked up at once).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Events on the resources (Reconciled, failures); patch updates a repeating Event's series.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
