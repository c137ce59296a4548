{{/* Names, labels, the config file and the environment shared by every Optimus workload. */}}

{{- define "optimus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-<chart>, or just the release name when it already contains the chart name. */}}
{{- define "optimus.fullname" -}}
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

{{/* Name of one component's objects: dict "root" $ "component" "ingest". */}}
{{- define "optimus.componentName" -}}
{{- printf "%s-%s" (include "optimus.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "optimus.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "optimus.labels" -}}
helm.sh/chart: {{ include "optimus.chart" . }}
{{ include "optimus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: optimus
{{- end }}

{{- define "optimus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "optimus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: dict "root" $ "component" "ingest". */}}
{{- define "optimus.componentLabels" -}}
{{ include "optimus.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "optimus.componentSelectorLabels" -}}
{{ include "optimus.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "optimus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "optimus.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "optimus.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}
{{- end }}

{{/* The Secret the chart creates for the values given inline. */}}
{{- define "optimus.secretName" -}}
{{- include "optimus.fullname" . }}
{{- end }}

{{- define "optimus.hasInlineSecrets" -}}
{{- $v := .Values }}
{{- if or (and $v.db.uri (not $v.db.existingSecret)) (and $v.auth.tokens (not $v.auth.existingSecret)) $v.auth.internalToken (and $v.blob.accessKeyId (not $v.blob.existingSecret)) (and $v.secrets.appKey (not $v.secrets.existingSecret)) -}}
true
{{- end }}
{{- end }}

{{/*
Stops the render with one line per mistake in the values, before anything reaches the cluster.
*/}}
{{- define "optimus.validate" -}}
{{- $errors := list }}
{{- if not (has .Values.mode (list "embedded" "distributed")) }}
{{- $errors = append $errors (printf "mode must be embedded or distributed, got %q" .Values.mode) }}
{{- end }}
{{- if and .Values.secrets.appKey (lt (len .Values.secrets.appKey) 32) }}
{{- $errors = append $errors "secrets.appKey must be at least 32 characters (its first 32 are the AES-256 key)" }}
{{- end }}
{{- range $i, $t := .Values.auth.tokens }}
{{- if not (or (hasPrefix "admin=" $t) (and (hasPrefix "project:" $t) (contains "=" $t))) }}
{{- $errors = append $errors (printf "auth.tokens[%d] must be \"admin=sha256:<hex>\" or \"project:<name>=sha256:<hex>\" (optimus token new prints one)" $i) }}
{{- end }}
{{- end }}
{{- if and .Values.auth.internalToken (lt (len .Values.auth.internalToken) 32) }}
{{- $errors = append $errors "auth.internalToken must be at least 32 characters" }}
{{- end }}
{{- if and (eq .Values.mode "distributed") .Values.auth.tokens (not .Values.auth.internalToken) (not .Values.auth.existingSecret) }}
{{- $errors = append $errors "distributed mode with auth.tokens needs auth.internalToken (a random string of 32+ characters the services send each other)" }}
{{- end }}
{{- if eq .Values.mode "distributed" }}
{{- if not (or .Values.db.uri .Values.db.existingSecret) }}
{{- $errors = append $errors "distributed mode needs PostgreSQL: set db.uri (postgresql://user:password@host:5432/db) or db.existingSecret" }}
{{- end }}
{{- if not (or .Values.bus.uri .Values.bus.existingSecret) }}
{{- $errors = append $errors "distributed mode needs Kafka: set bus.uri (kafka://host:9092) or bus.existingSecret" }}
{{- end }}
{{- $known := list "ingest" "spec-store" "dependency-resolver" "compiler" "plugin-manager" "runtime-context" "dispatcher" }}
{{- range $name, $svc := .Values.services }}
{{- if not (has $name $known) }}
{{- $errors = append $errors (printf "services.%s: there is no executable optimus-%s; the services are %s" $name $name (join ", " $known)) }}
{{- else if and $svc.enabled (not (and $svc.ports $svc.ports.http $svc.ports.grpc)) }}
{{- $errors = append $errors (printf "services.%s.ports needs http and grpc" $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.db.uri (not (hasPrefix "postgresql://" .Values.db.uri)) (not (hasPrefix "postgres://" .Values.db.uri)) (not (hasPrefix "sqlite:" .Values.db.uri)) }}
{{- $errors = append $errors "db.uri must start with postgresql:// (or sqlite: in embedded mode)" }}
{{- end }}
{{- if and .Values.bus.uri (not (hasPrefix "kafka://" .Values.bus.uri)) (not (hasPrefix "embedded:" .Values.bus.uri)) }}
{{- $errors = append $errors "bus.uri must start with kafka:// (or embedded: in embedded mode)" }}
{{- end }}
{{- if ne (not .Values.blob.accessKeyId) (not .Values.blob.secretAccessKey) }}
{{- $errors = append $errors "blob.accessKeyId and blob.secretAccessKey go together: set both or neither" }}
{{- end }}
{{- if and .Values.blob.existingSecret .Values.blob.accessKeyId }}
{{- $errors = append $errors "set either blob.existingSecret or blob.accessKeyId/secretAccessKey, not both" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (eq (kindIs "invalid" .Values.podDisruptionBudget.minAvailable) (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) }}
{{- $errors = append $errors "podDisruptionBudget: set exactly one of minAvailable and maxUnavailable (the other to null)" }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n%s" (join "\n" $errors)) }}
{{- end }}
{{- end }}

{{/* shutdown.grace in seconds, and the pod's grace period derived from it. */}}
{{- define "optimus.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add (int .Values.preStopSleepSeconds) (mul 2 (int .Values.config.shutdownGraceSeconds)) 5 }}
{{- else }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
The YAML config file of one process: dict "root" $ "ports" {http, grpc} "config" {per-process
keys} "embedded" bool. Secrets (db.uri, auth.tokens, S3 keys) are not in it: they come from
Secrets as OPTIMUS_* / AWS_* variables, which win over the file.
*/}}
{{- define "optimus.configFile" -}}
{{- $v := .root.Values }}
{{- $c := dict }}
{{- $_ := set $c "log" (deepCopy $v.config.log) }}
{{- $_ := set $c "http" (dict "host" "0.0.0.0" "port" (int .ports.http) "threads" (int $v.config.http.threads)) }}
{{- $_ := set $c "grpc" (dict "host" "0.0.0.0" "port" (int .ports.grpc)) }}
{{- $_ := set $c "relay" (deepCopy $v.config.relay) }}
{{- $_ := set $c "shutdown" (dict "grace" (printf "%ds" (int $v.config.shutdownGraceSeconds))) }}
{{- if .embedded }}
{{- $_ := set $c "data_dir" "/var/lib/optimus/data" }}
{{- end }}
{{- if and $v.bus.uri (not $v.bus.existingSecret) }}
{{- $_ := set $c "bus" (dict "uri" $v.bus.uri) }}
{{- end }}
{{- if $v.blob.uri }}
{{- $_ := set $c "blob" (dict "uri" $v.blob.uri) }}
{{- end }}
{{- if and (eq (default "" .name) "ingest") (index $v.services "dependency-resolver").enabled }}
{{- /* ingest asks the resolver which jobs still have readers before it deletes any. */}}
{{- $_ := set $c "ingest" (dict "lineage_host" (printf "%s-dependency-resolver:%d" (include "optimus.fullname" .root) (int (index $v.services "dependency-resolver").ports.grpc))) }}
{{- end }}
{{- if and (eq (default "" .name) "dispatcher") (index $v.services "runtime-context").enabled }}
{{- /* The dispatcher fetches run inputs for executors from runtime-context. */}}
{{- $_ := set $c "dispatcher" (dict "runtime_host" (printf "%s-runtime-context:%d" (include "optimus.fullname" .root) (int (index $v.services "runtime-context").ports.grpc))) }}
{{- end }}
{{- if and (include "optimus.pluginInstall" .root) (or .embedded (eq (default "" .name) "plugin-manager")) }}
{{- /* The init container installed the set already: the process serves it. */}}
{{- $_ := set $c "plugins" (dict "providers" $v.plugins.providers "plugins" $v.plugins.artifacts "install_dir" "/var/lib/optimus/plugins" "install_at_start" false) }}
{{- end }}
{{- $c = mustMergeOverwrite $c (deepCopy (default dict $v.config.extra)) (deepCopy (default dict .config)) }}
{{- toYaml $c }}
{{- end }}

{{/* "true" when plugin artifacts are configured (an init container installs them). */}}
{{- define "optimus.pluginInstall" -}}
{{- if .Values.plugins.artifacts }}true{{ end }}
{{- end }}

{{/* Environment of every Optimus container: the secrets, then extraEnv (shared, then own). */}}
{{- define "optimus.env" -}}
{{- $v := .root.Values }}
{{- $secret := include "optimus.secretName" .root }}
{{- if or $v.db.existingSecret $v.db.uri }}
- name: OPTIMUS_DB_URI
  valueFrom:
    secretKeyRef:
      name: {{ default $secret $v.db.existingSecret }}
      key: {{ ternary $v.db.existingSecretKey "db-uri" (not (empty $v.db.existingSecret)) }}
{{- end }}
{{- if $v.bus.existingSecret }}
- name: OPTIMUS_BUS_URI
  valueFrom:
    secretKeyRef:
      name: {{ $v.bus.existingSecret }}
      key: {{ $v.bus.existingSecretKey }}
{{- end }}
{{- if or $v.auth.existingSecret $v.auth.tokens }}
- name: OPTIMUS_AUTH_TOKENS
  valueFrom:
    secretKeyRef:
      name: {{ default $secret $v.auth.existingSecret }}
      key: {{ ternary $v.auth.existingSecretKey "auth-tokens" (not (empty $v.auth.existingSecret)) }}
{{- end }}
{{- if $v.auth.internalToken }}
- name: OPTIMUS_AUTH_INTERNAL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: auth-internal-token
{{- else if and $v.auth.existingSecret (eq $v.mode "distributed") }}
- name: OPTIMUS_AUTH_INTERNAL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $v.auth.existingSecret }}
      key: {{ $v.auth.existingSecretInternalKey }}
{{- end }}
{{- if or $v.secrets.existingSecret $v.secrets.appKey }}
- name: OPTIMUS_SECRETS_APP_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default $secret $v.secrets.existingSecret }}
      key: {{ ternary $v.secrets.existingSecretKey "app-key" (not (empty $v.secrets.existingSecret)) }}
{{- end }}
{{- if or $v.blob.existingSecret $v.blob.accessKeyId }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ default $secret $v.blob.existingSecret }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default $secret $v.blob.existingSecret }}
      key: AWS_SECRET_ACCESS_KEY
{{- end }}
{{- /* Only where the scheduler runs: the dispatcher, or the one embedded server. */}}
{{- if and $v.scheduler.airflowAuth.existingSecret (or (eq (toString .component) "dispatcher") (eq $v.mode "embedded")) }}
- name: OPTIMUS_SCHEDULER_AIRFLOW_AUTH
  valueFrom:
    secretKeyRef:
      name: {{ $v.scheduler.airflowAuth.existingSecret }}
      key: {{ $v.scheduler.airflowAuth.existingSecretKey }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Checksum of everything in the chart's own Secret, so that changing a token restarts the pods. */}}
{{- define "optimus.secretChecksum" -}}
{{- $v := .Values }}
{{- list $v.db.uri $v.auth.tokens $v.blob.accessKeyId $v.blob.secretAccessKey $v.db.existingSecret $v.bus.existingSecret $v.auth.existingSecret $v.blob.existingSecret $v.secrets.appKey $v.secrets.existingSecret | toJson | sha256sum }}
{{- end }}

{{/*
The pod spec shared by the service Deployments and the embedded StatefulSet:
dict "root" $ "component" name "command" [executable, …] "ports" {http, grpc} "resources" {…}
"extraEnv" […] "dataVolume" bool.
*/}}
{{- define "optimus.podSpec" -}}
{{- $v := .root.Values }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "optimus.serviceAccountName" .root }}
automountServiceAccountToken: false
{{- /* Kubernetes would otherwise inject <SERVICE>_PORT variables for every Service in the
namespace; a Service named e.g. "optimus-http" would become OPTIMUS_HTTP_PORT=tcp://… and break
the config. */}}
enableServiceLinks: false
terminationGracePeriodSeconds: {{ include "optimus.terminationGracePeriodSeconds" .root }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- $plugins := and (include "optimus.pluginInstall" .root) (or (eq .component "server") (eq .component "plugin-manager")) }}
{{- if $plugins }}
initContainers:
  - name: install-plugins
    image: {{ include "optimus.image" .root }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    command: ["optimus", "plugin", "install", "-c", "/etc/optimus/config.yaml", "--install-dir", "/var/lib/optimus/plugins"]
    {{- $initEnv := include "optimus.env" . | trim }}
    {{- if $initEnv }}
    env:
      {{- $initEnv | nindent 6 }}
    {{- end }}
    {{- with $v.extraEnvFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      {{- toYaml $v.securityContext | nindent 6 }}
    volumeMounts:
      - name: config
        mountPath: /etc/optimus
        readOnly: true
      - name: plugins
        mountPath: /var/lib/optimus/plugins
      - name: tmp
        mountPath: /tmp
{{- end }}
containers:
  - name: {{ .component }}
    image: {{ include "optimus.image" .root }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    command:
      {{- toYaml .command | nindent 6 }}
    args:
      - --config
      - /etc/optimus/config.yaml
    ports:
      - name: http
        containerPort: {{ .ports.http }}
        protocol: TCP
      - name: grpc
        containerPort: {{ .ports.grpc }}
        protocol: TCP
    {{- $env := include "optimus.env" . | trim }}
    {{- if $env }}
    env:
      {{- $env | nindent 6 }}
    {{- end }}
    {{- with $v.extraEnvFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    startupProbe:
      httpGet: {path: /healthz, port: http}
      {{- toYaml $v.probes.startup | nindent 6 }}
    livenessProbe:
      httpGet: {path: /healthz, port: http}
      {{- toYaml $v.probes.liveness | nindent 6 }}
    readinessProbe:
      httpGet: {path: /readyz, port: http}
      {{- toYaml $v.probes.readiness | nindent 6 }}
    {{- if gt (int $v.preStopSleepSeconds) 0 }}
    lifecycle:
      preStop:
        exec:
          command: ["sleep", "{{ int $v.preStopSleepSeconds }}"]
    {{- end }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      {{- toYaml $v.securityContext | nindent 6 }}
    volumeMounts:
      - name: config
        mountPath: /etc/optimus
        readOnly: true
      - name: tmp
        mountPath: /tmp
      {{- if .dataVolume }}
      - name: data
        mountPath: /var/lib/optimus
      {{- end }}
      {{- if $plugins }}
      - name: plugins
        mountPath: /var/lib/optimus/plugins
        readOnly: true
      {{- end }}
volumes:
  - name: config
    configMap:
      name: {{ include "optimus.fullname" .root }}-config
      items:
        - key: {{ .component }}.yaml
          path: config.yaml
  - name: tmp
    emptyDir: {}
  {{- if $plugins }}
  - name: plugins
    emptyDir: {}
  {{- end }}
  {{- if and .dataVolume (not $v.embedded.persistence.enabled) }}
  - name: data
    emptyDir: {}
  {{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.topologySpreadConstraints }}
{{- /* A constraint without a labelSelector spreads the pods of this component. */}}
{{- $selector := include "optimus.componentSelectorLabels" $ | fromYaml }}
topologySpreadConstraints:
  {{- range . }}
  {{- $constraint := deepCopy . }}
  {{- if not (hasKey $constraint "labelSelector") }}
  {{- $_ := set $constraint "labelSelector" (dict "matchLabels" $selector) }}
  {{- end }}
  - {{ toYaml $constraint | nindent 4 | trim }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Pod metadata annotations: checksums, Prometheus discovery, user annotations. */}}
{{- define "optimus.podAnnotations" -}}
checksum/config: {{ .config | sha256sum }}
checksum/secret: {{ include "optimus.secretChecksum" .root }}
{{- if .root.Values.prometheusAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .ports.http | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}
