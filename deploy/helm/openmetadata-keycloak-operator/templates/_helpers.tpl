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
The RBAC rules on namespaced objects, shared by the ClusterRole (all namespaces) and the
per-namespace Roles. tests/it/controller_loop.rs derives the same set from the requests the
operator really makes, and compares.
*/}}
{{- define "omkc.rules" -}}
# The custom resources: list and watch feed the controller's cache; patch adds and removes
# the omkc.dev/cleanup finalizer; get reads one again when that patch met finalizers the
# cache had not seen yet (its JSON patch tests them first). The operator never writes spec,
# and never creates, updates or deletes the resources.
- apiGroups: ["omkc.dev"]
  resources: ["openmetadatakeycloakclients"]
  verbs: ["get", "list", "watch", "patch"]
# Status is a subresource: patched with Ready, observedGeneration and the OpenMetadata values.
- apiGroups: ["omkc.dev"]
  resources: ["openmetadatakeycloakclients/status"]
  verbs: ["patch"]
# Secrets. list + watch: only three label-selected watches, the output Secrets
# (app.kubernetes.io/managed-by), the credentials Secrets (omkc.dev/keycloak-credentials) and
# the sources of client secrets (omkc.dev/client-secret-source); RBAC cannot restrict by label,
# the operator never asks for more. get: the metadata of a credentials or source Secret the
# watch does not show (to say "missing" or "not labelled" without reading its data), of an
# output Secret a create found already there (to check its owner), and the output Secret itself
# while a rotation asked for is being recorded (a consistent read, never a stale cache).
# create + patch: the output Secret, created when new and server-side applied when it differs.
# delete: the operator's own previous output Secret after spec.secret.name changes.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# ConfigMaps: the OpenMetadata Helm values a resource asks for (spec.openmetadata.valuesConfigMap).
# list + watch: one label-selected watch (app.kubernetes.io/managed-by) of those ConfigMaps.
# get: one a create found already there (to check its owner). create + patch: the values
# ConfigMap, created when new and server-side applied when it differs. delete: the resource's
# previous values ConfigMap after a rename, or once values are no longer asked for.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Events on the resources (one per change, Warnings); patch updates a repeating Event's series.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.rollout.enabled }}
# rollout.enabled: the workloads named in spec.secret.rollout. get: the checksum annotation on
# their metadata; patch: that annotation, and on the pod template when the secret changed (the
# pods roll). Nothing else of them is read or written.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "patch"]
{{- end }}
{{- end }}

{{/*
Cluster-scoped reads, needed in every mode: a ClusterRole even when the operator watches only
some namespaces (ClusterKeycloakConnections and namespaces are not in any namespace).
*/}}
{{- define "omkc.clusterRules" -}}
# ClusterKeycloakConnections: list and watch feed the cache a resource's connectionRef is
# resolved from; get reads one the cache does not show (yet) before calling it gone. Read only.
- apiGroups: ["omkc.dev"]
  resources: ["clusterkeycloakconnections"]
  verbs: ["get", "list", "watch"]
# Their status: the health of each connection (Ready, realms, version), for the platform team.
- apiGroups: ["omkc.dev"]
  resources: ["clusterkeycloakconnections/status"]
  verbs: ["patch"]
# Namespaces, metadata only: list and watch for the connections' namespaceSelector (labels);
# get for the kube-system namespace's UID, the default installation id of the owner markers.
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{/*
The credentials of ClusterKeycloakConnections, in the release namespace, when that namespace is
not watched anyway.
*/}}
{{- define "omkc.credentialsRules" -}}
# Secrets labelled omkc.dev/keycloak-credentials in the operator's own namespace, where the
# connections keep theirs: a label-selected list and watch, and get of the metadata of one the
# watch does not show.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
{{- end }}
