{{/* The name every object of the chart carries (cverag-operator by default). */}}
{{- define "cverag.fullname" -}}
{{- .Values.fullnameOverride | default (printf "%s-operator" .Release.Name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The selector labels: the Deployment's selector is immutable, so these never change. */}}
{{- define "cverag.selectorLabels" -}}
app.kubernetes.io/name: cverag-operator
{{- end -}}

{{- define "cverag.labels" -}}
{{ include "cverag.selectorLabels" . }}
app.kubernetes.io/part-of: cverag
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* repository:tag, repository@digest or repository:tag@digest; the tag defaults to appVersion. */}}
{{- define "cverag.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- if .Values.image.tag -}}
{{ printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else -}}
{{ printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- end -}}
{{- else -}}
{{ printf "%s:%s" .Values.image.repository $tag }}
{{- end -}}
{{- end -}}

{{- define "cverag.serviceAccountName" -}}
{{ include "cverag.fullname" . }}
{{- end -}}

{{/*
What the operator does in a namespace it watches: the same rules whether they are granted
cluster-wide (a ClusterRole) or per namespace (a Role). tests/controllers run the operator
with exactly these, so a verb missing here fails a test; tests/bundles check the OLM CSV
carries them too.
*/}}
{{- define "cverag.namespacedRules" -}}
# The four kinds: watch them, keep finalizers and annotations, write status.
- apiGroups: [cverag.io]
  resources: [cvefeeds, cvestores, cveindexes, ragendpoints]
  verbs: [get, list, watch, patch, update]
- apiGroups: [cverag.io]
  resources: [cvefeeds/status, cvestores/status, cveindexes/status, ragendpoints/status]
  verbs: [get, patch, update]
- apiGroups: [cverag.io]
  resources: [cvefeeds/finalizers, cvestores/finalizers, cveindexes/finalizers, ragendpoints/finalizers]
  verbs: [update]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# Credentials are read one by one (controllers/clients/credentials.py), never listed, watched or written.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
  {{- with .Values.rbac.secretNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
# Children the operator owns.
- apiGroups: [batch]
  resources: [jobs, cronjobs]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [batch]
  resources: [jobs/status]
  verbs: [get]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [services, serviceaccounts, persistentvolumeclaims, configmaps]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [networking.k8s.io]
  resources: [ingresses, networkpolicies]
  verbs: [get, list, watch, create, patch, update, delete]
# Optional integrations, used only when their CRDs exist.
- apiGroups: [kafka.strimzi.io]
  resources: [kafkatopics]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [keda.sh]
  resources: [scaledobjects]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [cert-manager.io]
  resources: [certificates]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [security.istio.io]
  resources: [peerauthentications, authorizationpolicies]
  verbs: [get, list, watch, create, patch, update, delete]
{{- end -}}

{{/* Only cluster-wide: kopf follows CRDs and namespaces as they come and go. */}}
{{- define "cverag.clusterRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list, watch]
{{- end -}}
