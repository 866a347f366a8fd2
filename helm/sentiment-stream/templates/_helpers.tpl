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

{{/*
One image runs both containers; GPU pods use the CUDA build of it. A digest pins the image by
content: <repository>:<tag>@<digest> (the runtime pulls by the digest; the tag stays for readers).
The GPU image is a different image, so only gpu.image.digest pins it.
*/}}
{{- define "sentiment-stream.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- $ref := "" }}
{{- $digest := "" }}
{{- if .Values.gpu.enabled }}
{{- $repo := default .Values.image.repository .Values.gpu.image.repository }}
{{- $gpuTag := default (printf "%s-gpu" $tag) .Values.image.gpuTag }}
{{- $ref = printf "%s:%s" $repo (default $gpuTag .Values.gpu.image.tag) }}
{{- $digest = .Values.gpu.image.digest }}
{{- else }}
{{- $ref = printf "%s:%s" .Values.image.repository $tag }}
{{- $digest = .Values.image.digest }}
{{- end }}
{{- if $digest }}{{ printf "%s@%s" $ref $digest }}{{ else }}{{ $ref }}{{ end }}
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

{{/*
The PromQL the drainTime scaling signal reads: one series, the slowest topic of the release's group.
namespace is the label the ServiceMonitor (and deploy/prometheus/scrape-config.example.yml) sets;
label values go through toJson, whose escapes PromQL strings accept.
*/}}
{{- define "sentiment-stream.drainQuery" -}}
{{- $d := .Values.autoscaling.keda.drainTime }}
{{- if $d.query }}{{ $d.query }}{{ else -}}
max(sentiment_consumergroup_drain_seconds{namespace={{ toJson .Release.Namespace }},consumergroup={{ toJson .Values.scorer.groupId }}})
{{- end }}
{{- end }}

{{/* Labels of the `helm test` pod: not the selector labels, so no Service, PDB or policy selects it by accident. */}}
{{- define "sentiment-stream.testLabels" -}}
app.kubernetes.io/name: {{ include "sentiment-stream.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
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
{{- if and $a.keda.enabled (eq $a.keda.signal "drainTime") (not $a.keda.drainTime.prometheus.serverAddress) }}
{{- fail "autoscaling.keda.signal is drainTime but autoscaling.keda.drainTime.prometheus.serverAddress is empty: name the Prometheus that scrapes the pods (e.g. http://prometheus-operated.monitoring.svc:9090)" }}
{{- end }}
{{- if and $a.keda.drainTime.prometheus.authenticationRef (not $a.keda.drainTime.prometheus.authModes) }}
{{- fail "autoscaling.keda.drainTime.prometheus.authenticationRef is set but authModes is empty: KEDA's prometheus scaler needs both (e.g. authModes: bearer)" }}
{{- end }}
{{- if lt (int .Values.sidecar.drainWindowMs) (mul 2 (int .Values.sidecar.lagIntervalMs)) }}
{{- fail (printf "sidecar.drainWindowMs (%d) is below 2 × sidecar.lagIntervalMs (%d): the processing rate needs two lag reads or more" (int .Values.sidecar.drainWindowMs) (mul 2 (int .Values.sidecar.lagIntervalMs))) }}
{{- end }}
{{- /* The sidecar answers a probe only after waiting up to scorerTimeoutMs for the scorer. */}}
{{- range $name, $probe := dict "scorer.startupProbe" .Values.scorer.startupProbe "scorer.livenessProbe" .Values.scorer.livenessProbe "scorer.readinessProbe" .Values.scorer.readinessProbe "sidecar.readinessProbe" .Values.sidecar.readinessProbe }}
{{- $timeout := int (default 1 $probe.timeoutSeconds) }}
{{- if le (mul $timeout 1000) (int $.Values.sidecar.scorerTimeoutMs) }}
{{- fail (printf "%s.timeoutSeconds (%d) must be above sidecar.scorerTimeoutMs (%d ms): the sidecar waits that long for the scorer before it answers the probe" $name $timeout (int $.Values.sidecar.scorerTimeoutMs)) }}
{{- end }}
{{- end }}
{{- range .Values.scorer.inputTopics }}
{{- if or (eq . $.Values.scorer.outputTopic) (eq . $.Values.scorer.dlqTopic) }}
{{- fail (printf "scorer.inputTopics contains %q, the output or dead-letter topic: the scorer would read its own output" .) }}
{{- end }}
{{- end }}
{{- end }}
