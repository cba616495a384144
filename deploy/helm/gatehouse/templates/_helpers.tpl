{{/* Names and labels. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
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

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Mode check: a typo must not render nothing. */}}
{{- define "gatehouse.mode" -}}
{{- if not (has .Values.mode (list "central" "sidecar")) -}}
{{- fail (printf "mode must be central or sidecar, got %q" .Values.mode) -}}
{{- end -}}
{{- .Values.mode -}}
{{- end -}}

{{/* The gRPC listen address for the mode. */}}
{{- define "gatehouse.addr" -}}
{{- if eq (include "gatehouse.mode" .) "sidecar" -}}
{{- .Values.sidecar.addr -}}
{{- else -}}
{{- printf ":%v" .Values.ports.grpc -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.socketDir" -}}
{{- if hasPrefix "unix://" .Values.sidecar.addr -}}
{{- dir (trimPrefix "unix://" .Values.sidecar.addr) -}}
{{- end -}}
{{- end -}}

{{/* gatehouse.yaml: the values' config block plus what the chart decides. */}}
{{- define "gatehouse.configFile" -}}
{{- $config := deepCopy .Values.config -}}
{{- $_ := set $config "addr" (include "gatehouse.addr" .) -}}
{{- $_ := set $config "admin_addr" (printf ":%v" .Values.ports.admin) -}}
{{- $_ := set $config "bundle" (default "/app/build/bundle.tar.gz" .Values.bundle.url) -}}
{{- if and .Values.bundle.verificationKey.secretName (not .Values.bundle.url) -}}
{{- fail "bundle.verificationKey.secretName is set but bundle.url is empty: the image's example bundle is unsigned, so gatehouse would refuse it and never become ready; set bundle.url to your signed bundle's server" -}}
{{- end -}}
{{- with .Values.bundle.verificationKey -}}
{{- if .secretName -}}
{{- $_ := set $config "bundle_verification_key_file" (printf "/etc/gatehouse/bundle-key/%s" .key) -}}
{{- with .keyId }}{{ $_ := set $config "bundle_verification_key_id" . }}{{ end -}}
{{- with .algorithm }}{{ $_ := set $config "bundle_verification_algorithm" . }}{{ end -}}
{{- with .scope }}{{ $_ := set $config "bundle_verification_scope" . }}{{ end -}}
{{- end -}}
{{- end -}}
{{- /* hasKey, not default: an explicit 0 is a value (default would read it as unset). */ -}}
{{- $drain := int (ternary $config.shutdown_drain_ms 5000 (hasKey $config "shutdown_drain_ms")) -}}
{{- $timeout := int (ternary $config.shutdown_timeout_ms 10000 (hasKey $config "shutdown_timeout_ms")) -}}
{{- /* After the in-flight Checks, src/app.ts stop() gives the decision log and then the tracer up to min(2000, shutdown_timeout_ms) ms each to flush. */ -}}
{{- $flush := mul 2 (min 2000 $timeout) -}}
{{- $shutdown := add $drain $timeout $flush -}}
{{- if le (mul (int .Values.terminationGracePeriodSeconds) 1000) $shutdown -}}
{{- fail (printf "terminationGracePeriodSeconds (%v s) must be longer than config.shutdown_drain_ms + shutdown_timeout_ms + the decision-log and trace flushes (%v ms in all), or the kubelet kills gatehouse while it drains or flushes" .Values.terminationGracePeriodSeconds $shutdown) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The gatehouse container, for both modes. */}}
{{- define "gatehouse.container" -}}
- name: gatehouse
  image: {{ include "gatehouse.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["serve", "--config", "/etc/gatehouse/config/gatehouse.yaml"]
  {{- with .Values.bundle.bearerToken }}
  {{- if .secretName }}
  env:
    - name: GATEHOUSE_BUNDLE_BEARER_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ .secretName }}
          key: {{ .key }}
  {{- end }}
  {{- end }}
  ports:
    {{- if eq (include "gatehouse.mode" .) "central" }}
    - name: grpc
      containerPort: {{ .Values.ports.grpc }}
      protocol: TCP
    {{- else if not (hasPrefix "unix://" .Values.sidecar.addr) }}
    - name: grpc
      containerPort: {{ regexFind "[0-9]+$" .Values.sidecar.addr | int }}
      protocol: TCP
    {{- end }}
    - name: admin
      containerPort: {{ .Values.ports.admin }}
      protocol: TCP
  startupProbe:
    httpGet: { path: {{ .Values.probes.startup.path }}, port: admin }
    periodSeconds: {{ .Values.probes.startup.periodSeconds }}
    failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  readinessProbe:
    httpGet: { path: {{ .Values.probes.readiness.path }}, port: admin }
    periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
    failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  livenessProbe:
    httpGet: { path: {{ .Values.probes.liveness.path }}, port: admin }
    periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
    failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  resources:
    {{- toYaml (ternary .Values.central.resources .Values.sidecar.resources (eq (include "gatehouse.mode" .) "central")) | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: gatehouse-config
      mountPath: /etc/gatehouse/config
      readOnly: true
    {{- if .Values.bundle.verificationKey.secretName }}
    - name: gatehouse-bundle-key
      mountPath: /etc/gatehouse/bundle-key
      readOnly: true
    {{- end }}
    {{- if and (eq (include "gatehouse.mode" .) "sidecar") (include "gatehouse.socketDir" .) }}
    - name: {{ .Values.sidecar.socketVolume }}
      mountPath: {{ include "gatehouse.socketDir" . }}
    {{- end }}
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* The volumes the gatehouse container mounts. */}}
{{- define "gatehouse.volumes" -}}
- name: gatehouse-config
  configMap:
    name: {{ include "gatehouse.fullname" . }}
{{- if .Values.bundle.verificationKey.secretName }}
- name: gatehouse-bundle-key
  secret:
    secretName: {{ .Values.bundle.verificationKey.secretName }}
{{- end }}
{{- if and (eq (include "gatehouse.mode" .) "sidecar") (include "gatehouse.socketDir" .) }}
- name: {{ .Values.sidecar.socketVolume }}
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "gatehouse.configChecksum" -}}
{{- include "gatehouse.configFile" . | sha256sum -}}
{{- end -}}
