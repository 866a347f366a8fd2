{{/* Names and labels, the usual Helm shape. */}}
{{- define "sentiment-stream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sentiment-stream.fullname" -}}
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

{{- define "sentiment-stream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sentiment-stream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sentiment-stream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sentiment-stream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sentiment-stream
{{- end }}

{{- define "sentiment-stream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sentiment-stream.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* One image runs both containers; GPU pods use the CUDA build of it. */}}
{{- define "sentiment-stream.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.gpu.enabled }}
{{- $repo := default .Values.image.repository .Values.gpu.image.repository }}
{{- $gpuTag := default (printf "%s-gpu" $tag) .Values.image.gpuTag }}
{{- printf "%s:%s" $repo (default $gpuTag .Values.gpu.image.tag) }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Seconds: the scorer's drain budget, rounded up, plus the margin. Always above the drain timeout. */}}
{{- define "sentiment-stream.terminationGracePeriodSeconds" -}}
{{- $ms := int .Values.scorer.shutdownTimeoutMs }}
{{- add (div (add $ms 999) 1000) (int .Values.terminationGraceMarginSeconds) }}
{{- end }}

{{/* The most replicas an autoscaler may create: its own setting, or the partition count. */}}
{{- define "sentiment-stream.maxReplicas" -}}
{{- $max := int .max }}
{{- if eq $max 0 }}{{ $max = int .root.Values.kafka.partitions }}{{ end }}
{{- $max }}
{{- end }}

{{- define "sentiment-stream.executionProviders" -}}
{{- if .Values.gpu.enabled }}cuda,cpu{{ else }}{{ join "," .Values.scorer.executionProviders }}{{ end }}
{{- end }}

{{- /* Kafka credentials and CA: the same for both containers, since the sidecar reads lag from Kafka too. */}}
{{- define "sentiment-stream.kafkaSecretEnv" -}}
{{- if ne .Values.kafka.sasl.mechanism "none" }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
# The password stays a file: libs/config reads <NAME>_FILE for secrets, so it is never in the env.
- name: KAFKA_SASL_PASSWORD_FILE
  value: {{ include "sentiment-stream.saslSecretMountPath" . }}/password
{{- end }}
{{- end }}
{{- define "sentiment-stream.kafkaSecretMounts" -}}
{{- if ne .Values.kafka.sasl.mechanism "none" }}
- name: kafka-sasl
  mountPath: {{ include "sentiment-stream.saslSecretMountPath" . }}
  readOnly: true
{{- end }}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.caSecret.name }}
- name: kafka-ca
  mountPath: {{ include "sentiment-stream.caMountPath" . }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "sentiment-stream.saslSecretMountPath" -}}/var/run/secrets/sentiment-stream/kafka-sasl{{- end }}
{{- define "sentiment-stream.caMountPath" -}}/var/run/secrets/sentiment-stream/kafka-ca{{- end }}

{{/*
Rules that span values, checked once (from the Deployment) with messages that say what to change.
JSON Schema in Helm cannot phrase these clearly, so they are template `fail`s.
*/}}
{{- define "sentiment-stream.validate" -}}
{{- $a := .Values.autoscaling }}
{{- if and $a.keda.enabled $a.hpa.enabled }}
{{- fail "autoscaling.keda.enabled and autoscaling.hpa.enabled are both true: choose one (KEDA creates its own HPA, and two HPAs on one Deployment fight over the replica count)" }}
{{- end }}
{{- $parts := int .Values.kafka.partitions }}
{{- if and $a.keda.enabled (gt (int $a.keda.maxReplicaCount) $parts) }}
{{- fail (printf "autoscaling.keda.maxReplicaCount (%d) is above kafka.partitions (%d): replicas beyond the partition count sit idle in the consumer group" (int $a.keda.maxReplicaCount) $parts) }}
{{- end }}
{{- if and $a.keda.enabled (gt (int $a.keda.minReplicaCount) (int (include "sentiment-stream.maxReplicas" (dict "max" $a.keda.maxReplicaCount "root" .)))) }}
{{- fail "autoscaling.keda.minReplicaCount is above the maximum (autoscaling.keda.maxReplicaCount, or kafka.partitions when that is 0)" }}
{{- end }}
{{- if and $a.hpa.enabled (gt (int $a.hpa.maxReplicas) $parts) }}
{{- fail (printf "autoscaling.hpa.maxReplicas (%d) is above kafka.partitions (%d): replicas beyond the partition count sit idle in the consumer group" (int $a.hpa.maxReplicas) $parts) }}
{{- end }}
{{- if and $a.hpa.enabled (gt (int $a.hpa.minReplicas) (int (include "sentiment-stream.maxReplicas" (dict "max" $a.hpa.maxReplicas "root" .)))) }}
{{- fail "autoscaling.hpa.minReplicas is above the maximum (autoscaling.hpa.maxReplicas, or kafka.partitions when that is 0)" }}
{{- end }}
{{- if and (ne .Values.kafka.sasl.mechanism "none") (not .Values.kafka.sasl.existingSecret) }}
{{- fail (printf "kafka.sasl.mechanism is %s but kafka.sasl.existingSecret is empty: name the Secret holding the Kafka credentials (keys kafka.sasl.usernameKey and kafka.sasl.passwordKey)" .Values.kafka.sasl.mechanism) }}
{{- end }}
{{- range .Values.scorer.inputTopics }}
{{- if or (eq . $.Values.scorer.outputTopic) (eq . $.Values.scorer.dlqTopic) }}
{{- fail (printf "scorer.inputTopics contains %q, the output or dead-letter topic: the scorer would read its own output" .) }}
{{- end }}
{{- end }}
{{- end }}
