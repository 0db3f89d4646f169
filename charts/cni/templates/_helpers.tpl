{{/*
The cni settings in effect: the defaults under `cni:`, overridden by the same keys at the top level
(Istio's per-chart shape). Rendered as YAML; read back with fromYaml.
*/}}
{{- define "cni.values" -}}
{{- $keys := list "hub" "tag" "image" "pullPolicy" "cniBinDir" "cniConfDir" "cniNetnsDir" "excludeNamespaces" "ambient" "logLevel" "logging" "resources" "podAnnotations" "podLabels" "nodeSelector" "affinity" "seccompProfile" "tolerations" "updateStrategy" "rollingMaxUnavailable" "kubeconfig" -}}
{{- $cni := deepCopy (.Values.cni | default dict) -}}
{{- range $k := $keys -}}
{{- if hasKey $.Values $k -}}
{{- $v := index $.Values $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" (index $cni $k)) -}}
{{- $_ := set $cni $k (mustMergeOverwrite (index $cni $k) $v) -}}
{{- else -}}
{{- $_ := set $cni $k $v -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $cni -}}
{{- end -}}

{{/* Ambient is the only profile; fail loudly on the others. */}}
{{- define "cni.checkProfile" -}}
{{- if not (has (.Values.profile | default "") (list "" "ambient")) -}}
{{- fail (printf "profile %q is not supported: ambient-mesh runs in ambient mode only (use profile=ambient or leave it unset)" .Values.profile) -}}
{{- end -}}
{{- end -}}

{{- define "cni.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ambient-mesh
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
istio.io/rev: {{ .Values.revision | default "default" | quote }}
{{- end -}}

{{/* A level from Istio's "<scope>:<level>,..." form (the default scope) or a bare level; "" if none. */}}
{{- define "cni.parseLevel" -}}
{{- $level := "" -}}
{{- range $part := splitList "," (. | default "") -}}
{{- $kv := splitList ":" (trim $part) -}}
{{- if and (eq (len $kv) 2) (eq (first $kv) "default") -}}{{- $level = last $kv -}}{{- end -}}
{{- if eq (len $kv) 1 -}}{{- if first $kv -}}{{- $level = first $kv -}}{{- end -}}{{- end -}}
{{- end -}}
{{- get (dict "warning" "warn" "none" "silent") $level | default $level -}}
{{- end -}}


{{/*
The agent's environment as a map: the chart's defaults (every address and path explicit so that
`env` can replace any of them), then `env` (under cni: or top level) on top.
*/}}
{{- define "cni.env" -}}
{{- $cni := include "cni.values" . | fromYaml -}}
{{- $level := include "cni.parseLevel" $cni.logLevel | default (include "cni.parseLevel" ($cni.logging | default dict).level) | default (include "cni.parseLevel" .Values.global.logging.level) | default "info" -}}
{{- $env := dict
  "KUBECONFIG" "/etc/istio-cni/kubeconfig"
  "ZTUNNEL_UDS" "/var/run/ztunnel/ztunnel.sock"
  "PLUGIN_EVENT_SOCKET" "/var/run/istio-cni/pluginevent.sock"
  "CNI_BIN_DIR" ($cni.cniBinDir | default "/opt/cni/bin")
  "CNI_NET_DIR" ($cni.cniConfDir | default "/etc/cni/net.d")
  "READINESS_ADDR" "0.0.0.0:8000"
  "METRICS_ADDR" "0.0.0.0:15014"
  "AMBIENT_DNS_CAPTURE" (toString (ne (toString ($cni.ambient | default dict).dnsCapture) "false"))
  "NATIVE_NFTABLES" (toString (eq (toString .Values.global.nativeNftables) "true"))
  "EXCLUDE_NAMESPACES" (join "," ($cni.excludeNamespaces | default list))
  "LOG_LEVEL" $level
-}}
{{- /* env read directly: a YAML round trip would turn numbers into floats. */ -}}
{{- range $k, $v := mustMergeOverwrite (deepCopy ((.Values.cni | default dict).env | default dict)) (.Values.env | default dict) -}}
{{- $_ := set $env $k (toString $v) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* `<hub>/<name>:<tag>`, or the name itself when it is a full reference. Args: root, name, hub, tag. */}}
{{- define "cni.imageRef" -}}
{{- if contains "/" .name -}}
{{- .name -}}
{{- else -}}
{{- printf "%s/%s:%s" (.hub | default .root.Values.global.hub | toString) .name (.tag | default .root.Values.global.tag | default .root.Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}
