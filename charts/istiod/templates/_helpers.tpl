{{/*
The pilot settings in effect: the defaults under `pilot:`, overridden by the same keys at the top
level (Istio's per-chart shape). Rendered as YAML; read back with fromYaml.
*/}}
{{- define "istiod.pilot" -}}
{{- $keys := list "hub" "tag" "image" "imagePullPolicy" "replicaCount" "rollingMaxSurge" "rollingMaxUnavailable" "autoscaleEnabled" "autoscaleMin" "autoscaleMax" "autoscaleBehavior" "cpu" "memory" "resources" "env" "trustedZtunnelNamespace" "trustedZtunnelName" "nodeSelector" "tolerations" "affinity" "topologySpreadConstraints" "podAnnotations" "podLabels" "deploymentLabels" "serviceAnnotations" "serviceAccountAnnotations" "volumes" "volumeMounts" -}}
{{- $pilot := deepCopy (.Values.pilot | default dict) -}}
{{- range $k := $keys -}}
{{- if hasKey $.Values $k -}}
{{- $v := index $.Values $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" (index $pilot $k)) -}}
{{- $_ := set $pilot $k (mustMergeOverwrite (index $pilot $k) $v) -}}
{{- else -}}
{{- $_ := set $pilot $k $v -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $pilot -}}
{{- end -}}

{{/* Ambient is the only profile; fail loudly on the others. */}}
{{- define "istiod.checkProfile" -}}
{{- if not (has (.Values.profile | default "") (list "" "ambient")) -}}
{{- fail (printf "profile %q is not supported: ambient-mesh runs in ambient mode only (use profile=ambient or leave it unset)" .Values.profile) -}}
{{- end -}}
{{- end -}}

{{- define "istiod.tag" -}}
{{- .Values.global.tag | default .Chart.AppVersion | toString -}}
{{- end -}}

{{/* `<hub>/<name>:<tag>`, or the name itself when it is a full reference. Args: root, name, hub, tag. */}}
{{- define "istiod.imageRef" -}}
{{- if contains "/" .name -}}
{{- .name -}}
{{- else -}}
{{- printf "%s/%s:%s" (.hub | default .root.Values.global.hub | toString) .name (.tag | default (include "istiod.tag" .root) | toString) -}}
{{- end -}}
{{- end -}}

{{- define "istiod.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ambient-mesh
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
istio.io/rev: {{ .Values.revision | default "default" | quote }}
{{- end -}}

{{- define "istiod.selectorLabels" -}}
app: istiod
istio: pilot
{{- end -}}

{{/* The LOG_LEVEL our logger takes, from Istio's "<scope>:<level>,..." (the default scope) or a bare level. */}}
{{- define "istiod.logLevel" -}}
{{- $level := "info" -}}
{{- range $part := splitList "," (.Values.global.logging.level | default "") -}}
{{- $kv := splitList ":" (trim $part) -}}
{{- if and (eq (len $kv) 2) (eq (first $kv) "default") -}}{{- $level = last $kv -}}{{- end -}}
{{- if eq (len $kv) 1 -}}{{- if first $kv -}}{{- $level = first $kv -}}{{- end -}}{{- end -}}
{{- end -}}
{{- get (dict "warning" "warn" "none" "silent") $level | default $level -}}
{{- end -}}

{{/*
The controller's environment as a map: the chart's defaults (every address and path explicit, so
pilot.env can replace any of them), then pilot.env on top.
*/}}
{{- define "istiod.env" -}}
{{- $pilot := include "istiod.pilot" . | fromYaml -}}
{{- $ns := .Release.Namespace -}}
{{- /* pilot.env and top-level env read directly: a YAML round trip would turn numbers into floats. */ -}}
{{- $env := dict
  "TRUST_DOMAIN" (.Values.meshConfig.trustDomain | default "cluster.local")
  "CLUSTER_ID" (.Values.global.multiCluster.clusterName | default "Kubernetes")
  "DOMAIN_SUFFIX" (.Values.global.proxy.clusterDomain | default "cluster.local")
  "ROOT_NAMESPACE" (.Values.meshConfig.rootNamespace | default $ns)
  "CA_TRUSTED_NODE_ACCOUNTS" (printf "%s/%s" ($pilot.trustedZtunnelNamespace | default $ns) ($pilot.trustedZtunnelName | default "ztunnel"))
  "GRPC_ADDR" "127.0.0.1:15010"
  "GRPC_TLS_ADDR" "0.0.0.0:15012"
  "MONITORING_ADDR" "0.0.0.0:15014"
  "DISCOVERY_ADDRESS" (.Values.meshConfig.defaultConfig.discoveryAddress | default (printf "istiod.%s.svc:15012" $ns))
  "WAYPOINT_IMAGE" (include "istiod.imageRef" (dict "root" . "name" .Values.waypoint.image))
  "LOG_LEVEL" (include "istiod.logLevel" .)
-}}
{{- with .Values.waypoint.env -}}
{{- $wp := dict -}}
{{- range $k, $v := . }}{{ $_ := set $wp $k (toString $v) }}{{ end -}}
{{- $_ := set $env "WAYPOINT_EXTRA_ENV" (toJson $wp) -}}
{{- end -}}
{{- range $k, $v := mustMergeOverwrite (deepCopy (.Values.pilot.env | default dict)) (.Values.env | default dict) -}}
{{- $_ := set $env $k (toString $v) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}
