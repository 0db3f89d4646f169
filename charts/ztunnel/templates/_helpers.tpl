{{/* Ambient is the only profile; fail loudly on the others. */}}
{{- define "ztunnel.checkProfile" -}}
{{- if not (has (.Values.profile | default "") (list "" "ambient")) -}}
{{- fail (printf "profile %q is not supported: ambient-mesh runs in ambient mode only (use profile=ambient or leave it unset)" .Values.profile) -}}
{{- end -}}
{{- end -}}

{{- define "ztunnel.image" -}}
{{- $image := .Values.image | default "ztunnel" -}}
{{- if contains "/" $image -}}
{{- $image -}}
{{- else -}}
{{- printf "%s/%s:%s" (.Values.hub | default .Values.global.hub | toString) $image (.Values.tag | default .Values.global.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{- define "ztunnel.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ambient-mesh
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
istio.io/rev: {{ .Values.revision | default "default" | quote }}
{{- end -}}

{{/* A control-plane address as ztunnel takes it: a URL; Istio's bare host:port means TLS. */}}
{{- define "ztunnel.url" -}}
{{- if contains "://" . -}}{{ . }}{{- else -}}https://{{ . }}{{- end -}}
{{- end -}}

{{/*
ztunnel's environment as a map: the chart's defaults (every address and path explicit so that
`env` can replace any of them), then meshConfig.defaultConfig.proxyMetadata, then `env`.
*/}}
{{- define "ztunnel.env" -}}
{{- $ns := .Values.istioNamespace | default .Values.global.istioNamespace | default "istio-system" -}}
{{- /* The istiod chart names its Service istiod whatever the revision, so no istiod-<revision> here. */ -}}
{{- $istiod := printf "istiod.%s.svc" $ns -}}
{{- $grace := int (.Values.terminationGracePeriodSeconds | default 30) -}}
{{- $env := dict
  "CA_ADDRESS" (include "ztunnel.url" (.Values.caAddress | default (printf "%s:15012" $istiod)))
  "XDS_ADDRESS" (include "ztunnel.url" (.Values.xdsAddress | default (printf "%s:15012" $istiod)))
  "CA_ROOT_CA" "/var/run/secrets/istio/root-cert.pem"
  "XDS_ROOT_CA" "/var/run/secrets/istio/root-cert.pem"
  "AUTH_TOKEN" "/var/run/secrets/tokens/istio-token"
  "INPOD_UDS" "/var/run/ztunnel/ztunnel.sock"
  "ADMIN_ADDR" "127.0.0.1:15000"
  "STATS_ADDR" "0.0.0.0:15020"
  "READINESS_ADDR" "0.0.0.0:15021"
  "DNS_PROXY_ADDR" "127.0.0.1:15053"
  "TRUST_DOMAIN" (.Values.meshConfig.trustDomain | default "cluster.local")
  "ISTIO_META_CLUSTER_ID" (.Values.multiCluster.clusterName | default .Values.global.multiCluster.clusterName | default "Kubernetes")
  "LOG_LEVEL" (.Values.logLevel | default "info")
  "CONNECTION_TERMINATION_DEADLINE" (toString (max 0 (sub $grace 1)))
-}}
{{- with (.Values.network | default .Values.global.network) }}{{ $_ := set $env "NETWORK" . }}{{ end -}}
{{- range $k, $v := (.Values.meshConfig.defaultConfig.proxyMetadata | default dict) }}{{ $_ := set $env $k (toString $v) }}{{ end -}}
{{- range $k, $v := (.Values.env | default dict) }}{{ $_ := set $env $k (toString $v) }}{{ end -}}
{{- toYaml $env -}}
{{- end -}}
