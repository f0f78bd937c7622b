{{/* Names, labels and the checks every template shares. */}}
{{- define "aiops.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "aiops.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aiops.labels" -}}
{{ include "aiops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "aiops.secretName" -}}
{{- default (include "aiops.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "aiops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aiops.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* SQLite or a local artifact folder: state on one pod's volume. */}}
{{- define "aiops.localState" -}}
{{- if or (not .Values.database.enabled) (not (hasPrefix "s3://" .Values.artifacts)) -}}true{{- end -}}
{{- end -}}

{{/* Fails the render when more than one replica could share SQLite or a local folder. */}}
{{- define "aiops.checkReplicas" -}}
{{- if include "aiops.localState" . -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled -}}
{{- fail "aiops: more than one replica (replicaCount > 1 or autoscaling.enabled) needs database.enabled (PostgreSQL) and s3:// artifacts; SQLite and a local artifact folder live on one pod's volume" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Whether an optional monitoring object renders: true, false, or auto (its API exists). */}}
{{- define "aiops.monitoringOn" -}}
{{- $setting := index . 0 -}}
{{- $ctx := index . 1 -}}
{{- if eq (toString $setting) "auto" -}}
{{- if $ctx.Capabilities.APIVersions.Has "monitoring.coreos.com/v1" -}}true{{- end -}}
{{- else if eq (toString $setting) "true" -}}true{{- end -}}
{{- end -}}
