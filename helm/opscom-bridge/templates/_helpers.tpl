{{/* Names, labels and the pieces every pod of the chart shares. */}}

{{/* Chart name, overridable. */}}
{{- define "opscom-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart> unless the release name already holds the chart name. */}}
{{- define "opscom-bridge.fullname" -}}
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

{{/* chart label value: name-version. */}}
{{- define "opscom-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "opscom-bridge.labels" -}}
helm.sh/chart: {{ include "opscom-bridge.chart" . }}
{{ include "opscom-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ include "opscom-bridge.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: opscom-bridge
{{- end }}

{{/* Selector labels (immutable once deployed: keep them small). */}}
{{- define "opscom-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opscom-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels and selector labels of one component: include with (list $ "web"). */}}
{{- define "opscom-bridge.componentLabels" -}}
{{ include "opscom-bridge.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}
{{- define "opscom-bridge.componentSelectorLabels" -}}
{{ include "opscom-bridge.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "opscom-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "opscom-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image tag: image.tag, else the chart's appVersion. */}}
{{- define "opscom-bridge.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* Full image reference; a digest wins over the tag. */}}
{{- define "opscom-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "opscom-bridge.tag" .) }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding credentials (the chart's or an existing one). */}}
{{- define "opscom-bridge.secretName" -}}
{{- default (include "opscom-bridge.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* Simulator Service name. */}}
{{- define "opscom-bridge.simName" -}}
{{- printf "%s-sim" (include "opscom-bridge.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* OPS-COM base URL: the configured one, else the in-cluster simulator when enabled. */}}
{{- define "opscom-bridge.opscomBaseUrl" -}}
{{- if .Values.opscom.baseUrl }}
{{- .Values.opscom.baseUrl }}
{{- else if .Values.simulator.enabled }}
{{- printf "http://%s:%d" (include "opscom-bridge.simName" .) (int .Values.simulator.port) }}
{{- end }}
{{- end }}

{{/* Path of the BRIDGE_CONFIG file inside the pods. */}}
{{- define "opscom-bridge.configDir" -}}/etc/opscom-bridge{{- end }}

{{/* Environment every bridge container gets (beside the Secret, through envFrom). */}}
{{- define "opscom-bridge.env" -}}
- name: OPSCOM_CLIENT_CODE
  value: {{ .Values.opscom.clientCode | quote }}
- name: BRIDGE_CONFIG
  value: {{ printf "%s/config.yaml" (include "opscom-bridge.configDir" .) | quote }}
{{- with include "opscom-bridge.opscomBaseUrl" . }}
- name: OPSCOM_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* envFrom: the credentials Secret. */}}
{{- define "opscom-bridge.envFrom" -}}
- secretRef:
    name: {{ include "opscom-bridge.secretName" . }}
{{- end }}

{{/* Volume mounts of every bridge container. */}}
{{- define "opscom-bridge.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: config
  mountPath: {{ include "opscom-bridge.configDir" . }}
  readOnly: true
{{- end }}

{{/* Volumes of every bridge pod. */}}
{{- define "opscom-bridge.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
- name: config
  configMap:
    name: {{ include "opscom-bridge.fullname" . }}
{{- end }}

{{/* Rolls pods when the chart-made ConfigMap or Secret changes. */}}
{{- define "opscom-bridge.checksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by every bridge pod. */}}
{{- define "opscom-bridge.podCommon" -}}
serviceAccountName: {{ include "opscom-bridge.serviceAccountName" . }}
# The bridge never calls the Kubernetes API.
automountServiceAccountToken: false
# Service links would inject <SERVICE>_PORT... variables into the environment.
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* The `opscom-bridge topology` container (init container or Job). */}}
{{- define "opscom-bridge.topologyContainer" -}}
- name: topology
  image: {{ include "opscom-bridge.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["topology"]
  env:
    {{- include "opscom-bridge.env" . | nindent 4 }}
  envFrom:
    {{- include "opscom-bridge.envFrom" . | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml .Values.topology.resources | nindent 4 }}
  volumeMounts:
    {{- include "opscom-bridge.volumeMounts" . | nindent 4 }}
{{- end }}
