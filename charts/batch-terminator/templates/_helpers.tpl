{{/* The chart name. */}}
{{- define "batch-terminator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's resources. */}}
{{- define "batch-terminator.fullname" -}}
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

{{- define "batch-terminator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "batch-terminator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "batch-terminator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "batch-terminator.labels" -}}
helm.sh/chart: {{ include "batch-terminator.chart" . }}
{{ include "batch-terminator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: batch-terminator
{{- end }}

{{- define "batch-terminator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "batch-terminator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "batch-terminator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the SigV4 credentials file; empty when there is none. */}}
{{- define "batch-terminator.credentialsSecret" -}}
{{- if eq .Values.auth "sigv4" }}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else }}
{{- printf "%s-credentials" (include "batch-terminator.fullname" .) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "batch-terminator.credentialsDir" -}}
/etc/batch-terminator/credentials
{{- end }}

{{- define "batch-terminator.tlsDir" -}}
/etc/batch-terminator/tls
{{- end }}

{{/* The API's URL inside the cluster. */}}
{{- define "batch-terminator.url" -}}
{{- printf "%s://%s.%s.svc:%v" (ternary "https" "http" (not (empty .Values.tls.secretName))) (include "batch-terminator.fullname" .) .Release.Namespace .Values.service.port }}
{{- end }}

{{/*
The RBAC rules: exactly the API calls of the code, each named by the function that makes it.
tests/chart.rs fails when a rule is not used by some request during the terminate scenarios.
*/}}
{{- define "batch-terminator.rules" -}}
# index watches Jobs; controller actions::patch_job() JSON-patches one (annotations, fence
# or suspend), delete_job() deletes a cancelled one; service/submit.rs creates a submitted
# one, and reads it back when a retried SubmitJob meets it (409).
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["list", "watch", "patch", "delete", "create", "get"]
# index watches the Jobs' pods; actions::delete_pod() deletes a terminated Job's pods.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", "delete"]
# actions::create_event() records one Event regarding the Job.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
# service.rs creates the durable record, and patches a no-op CancelJob's record into a
# TerminateJob; index watches records; actions::delete_record() deletes an expired one.
- apiGroups: ["batch-terminator.dev"]
  resources: ["jobterminations"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# actions::write_status() merge-patches the record's status.
- apiGroups: ["batch-terminator.dev"]
  resources: ["jobterminations/status"]
  verbs: ["patch"]
{{- end }}

{{/* The hook of release-legacy-finalizers.yaml, and its one rule. */}}
{{- define "batch-terminator.releaseLegacyHook" -}}
helm.sh/hook: post-upgrade
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}
{{- define "batch-terminator.releaseLegacyRules" -}}
# legacy.rs lists the pods (metadata only) and JSON-patches the finalizer off each held one.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "patch"]
{{- end }}
