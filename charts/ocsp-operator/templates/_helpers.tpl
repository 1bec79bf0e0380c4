{{/* The chart's name, overridable. */}}
{{- define "ocsp-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: <release>-<chart>, or the release name when it contains the chart's. */}}
{{- define "ocsp-operator.fullname" -}}
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

{{- define "ocsp-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ocsp-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ocsp-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "ocsp-operator.labels" -}}
helm.sh/chart: {{ include "ocsp-operator.chart" . }}
{{ include "ocsp-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ocsp-operator
{{- end }}

{{- define "ocsp-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ocsp-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ocsp-operator.leaseName" -}}
{{- default (include "ocsp-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
An image reference from a repository/tag/digest block: `repo@digest` when a digest is set,
else `repo:tag` (the tag defaulting to the chart's appVersion).
*/}}
{{- define "ocsp-operator.imageRef" -}}
{{- $img := index . 0 -}}
{{- $chart := index . 1 -}}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default $chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "ocsp-operator.image" -}}
{{- include "ocsp-operator.imageRef" (list .Values.image .Chart) }}
{{- end }}

{{/* The PKCS#11 signer image (the Dockerfile's `signer` target): its own reference, never derived from the operator's. */}}
{{- define "ocsp-operator.signerImage" -}}
{{- include "ocsp-operator.imageRef" (list .Values.signerImage .Chart) }}
{{- end }}

{{/*
The rules the controllers need in every namespace they watch: a ClusterRole in cluster-wide
mode, a Role per watched namespace in namespaced mode. Each rule names the code that needs it.
*/}}
{{- define "ocsp-operator.rules" -}}
# OcspStaples: informer (list, watch); automatic staples for opted-in cert-manager Secrets
# (create, and delete when the opt-in goes away; src/staple/auto-staple.ts); patch removes a
# served `kubectl ocsp refresh` annotation (src/staple/refresh-request.ts).
- apiGroups: ["ocsp-operator.dev"]
  resources: ["ocspstaples"]
  verbs: ["get", "list", "watch", "create", "delete", "patch"]
# Status written with PUT (src/staple/reconciler.ts).
- apiGroups: ["ocsp-operator.dev"]
  resources: ["ocspstaples/status"]
  verbs: ["update"]
# Staple Secrets name their OcspStaple as controller owner with blockOwnerDeletion: clusters
# running the OwnerReferencesPermissionEnforcement admission plugin ask for this.
- apiGroups: ["ocsp-operator.dev"]
  resources: ["ocspstaples/finalizers"]
  verbs: ["update"]
{{- if .Values.pools.enabled }}
# From here to the ConfigMaps: the pools' rules, rendered with pools.enabled only (otherwise the
# operator runs with --pools=false; the staples need none of them).
# OcspResponderPools and what a pool runs (src/pool/workloads.ts, applied server-side): the
# embedded pod's or responders' Deployments, the signer StatefulSet (its replicas scaled on the
# backlog), the responder Service, and the pods' ServiceAccount with a Role that lets them write
# only their pool's report ConfigMap.
- apiGroups: ["ocsp-operator.dev"]
  resources: ["ocspresponderpools"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["ocsp-operator.dev"]
  resources: ["ocspresponderpools/status"]
  verbs: ["update", "patch"]
- apiGroups: ["ocsp-operator.dev"]
  resources: ["ocspresponderpools/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# How a pool's responders are published and kept up (src/pool/exposure.ts): its Ingress
# (spec.responder.ingress), an HPA per responder Deployment (spec.responder.autoscaling) and the
# responders' and signers' PodDisruptionBudgets. Each type above and these are listed and deleted
# when the spec stops rendering them (src/pool/owned.ts).
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# EndpointSlices of the pools' Services, read through an informer (src/pool/liveness.ts): the
# kubelet's readiness of each pool pod decides whether its report counts and how many responders
# are ready. Read only.
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
# ConfigMaps: CA databases named by opensslIndex sources and the pods' reports are read through an
# informer; each pool's generated certificate index is written (and the pods' report ConfigMap
# may be created by the operator's grant to them, which needs the operator to hold it too).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
{{- end }}
# Secrets: source certificate Secrets are read through an informer; staple Secrets are created,
# then replaced (update) at the version read (src/staple/reconciler.ts). Never deleted: they go
# away with their OcspStaple through owner references.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update"]
# Events for transitions and failures (events.k8s.io/v1; src/kube/events.ts).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
# spec.onRevoked.reissue: a revoked certificate makes cert-manager reissue it
# (src/staple/reissue.ts: read the Certificate, rotate its key, set Issuing on its status).
- apiGroups: ["cert-manager.io"]
  resources: ["certificates"]
  verbs: ["get", "patch"]
- apiGroups: ["cert-manager.io"]
  resources: ["certificates/status"]
  verbs: ["patch"]
{{- end }}
