{{/* The chart's name, or nameOverride. */}}
{{- define "shadowkeep.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-shadowkeep", or the release name alone when it already contains the chart name. */}}
{{- define "shadowkeep.fullname" -}}
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

{{- define "shadowkeep.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "shadowkeep.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shadowkeep
{{- end -}}

{{/* Selector labels of one component: pass (dict "ctx" $ "component" "controller"). */}}
{{- define "shadowkeep.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shadowkeep.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "shadowkeep.componentLabels" -}}
{{ include "shadowkeep.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "shadowkeep.controller.serviceAccountName" -}}
{{- default (printf "%s-controller" (include "shadowkeep.fullname" .)) .Values.controller.serviceAccount.name -}}
{{- end -}}

{{- define "shadowkeep.agent.serviceAccountName" -}}
{{- default (printf "%s-agent" (include "shadowkeep.fullname" .)) .Values.agent.serviceAccount.name -}}
{{- end -}}

{{/* repository:tag of a component: pass (dict "ctx" $ "image" .Values.controller.image). */}}
{{- define "shadowkeep.image" -}}
{{- $tag := .image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}

{{- define "shadowkeep.pullPolicy" -}}
{{- .image.pullPolicy | default .ctx.Values.image.pullPolicy -}}
{{- end -}}
