#!/usr/bin/env bash
# End to end on kind, for users with Docker (these project machines have none: the script is
# checked with shellcheck here, and run where Docker is). It:
#   1. creates the kind cluster of kind-config.yaml (or reuses it),
#   2. builds the operator and signer images (Dockerfile), the node suite's peers (hack/images/),
#      and loads them into the nodes,
#   3. installs the chart (namespaced mode, watching $WATCH_NAMESPACE only, so the installed
#      operator never touches the namespaces the test suite makes) and checks that it leads,
#      reconciles and writes status with its own ServiceAccount,
#   4. creates a SoftHSM token (and an EC P-256 signing key) on a volume, in the signer image,
#   5. runs the Kubernetes test suites against the cluster (KUBECONFIG set: nothing is started):
#      the `kube` project, and the `node` project (test/node/: the chart installed, staples served
#      by nginx/HAProxy pods, pools) with the images built and loaded in step 2.
# Needs: docker, kind, node + npm, go (the suite's setup builds kubectl; helm is built by
# hack/install-helm.sh when it is not on PATH).
#
# Environment: CLUSTER (ocsp-operator), RELEASE_NAMESPACE (ocsp-operator-system),
# WATCH_NAMESPACE (ocsp-e2e), KEEP=1 keeps a cluster this script created, SKIP_SUITE=1 stops
# after the SoftHSM token; arguments are passed to vitest (default: --project kube --project node).
set -euo pipefail
cd "$(dirname "$0")/../.."

cluster=${CLUSTER:-ocsp-operator}
release_ns=${RELEASE_NAMESPACE:-ocsp-operator-system}
watch_ns=${WATCH_NAMESPACE:-ocsp-e2e}
tag=e2e-$(date +%s)
image_repo=ocsp-operator
signer_repo=ocsp-operator-signer

log() { printf '[e2e] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required: $2"; }

need docker "https://docs.docker.com/get-docker/"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need node "Node >= 20.19"
need npm "comes with Node"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info)"

helm_bin=$(command -v helm || true)
[ -n "$helm_bin" ] || helm_bin=$(hack/install-helm.sh | tail -n 1)
kubectl_bin=$(command -v kubectl || true)
[ -n "$kubectl_bin" ] || kubectl_bin="$(hack/build-control-plane.sh | tail -n 1)/kubectl"

workdir=$(mktemp -d)
created_cluster=0
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ] && [ -f "$workdir/kubeconfig" ]; then
    log "failed (exit $status); operator pods and logs:"
    "$kubectl_bin" --kubeconfig "$workdir/kubeconfig" -n "$release_ns" get pods -o wide >&2 || true
    "$kubectl_bin" --kubeconfig "$workdir/kubeconfig" -n "$release_ns" logs -l app.kubernetes.io/instance=ocsp-operator --tail=50 >&2 || true
  fi
  if [ "$created_cluster" -eq 1 ] && [ "${KEEP:-0}" != 1 ]; then
    log "deleting the kind cluster $cluster (KEEP=1 keeps it)"
    kind delete cluster --name "$cluster" >&2 || true
  fi
  rm -rf "$workdir"
  exit "$status"
}
trap cleanup EXIT

k() { "$kubectl_bin" --kubeconfig "$workdir/kubeconfig" "$@"; }

# 1. the cluster
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "reusing the kind cluster $cluster"
else
  log "creating the kind cluster $cluster (kind-config.yaml)"
  kind create cluster --config kind-config.yaml --name "$cluster" --wait 180s
  created_cluster=1
fi
kind export kubeconfig --name "$cluster" --kubeconfig "$workdir/kubeconfig"

# 2. the images
log "building $image_repo:$tag and $signer_repo:$tag"
docker build --target operator -t "$image_repo:$tag" .
docker build --target signer -t "$signer_repo:$tag" .
# A second operator image (another version label) for the node suite's helm upgrade and rollback.
docker build --target operator --build-arg VERSION="$tag-upgrade" -t "$image_repo:$tag-upgrade" .
# The peers the node suite runs as pods (the CA's responder and the client, nginx, HAProxy, Redis).
peers=()
for peer in toolbox nginx haproxy redis; do
  docker build -t "localhost/$peer:test" "hack/images/$peer"
  peers+=("localhost/$peer:test")
done
kind load docker-image --name "$cluster" "$image_repo:$tag" "$image_repo:$tag-upgrade" "$signer_repo:$tag" "${peers[@]}"

# 3. the chart
k create namespace "$watch_ns" --dry-run=client -o yaml | k apply -f -
# Helm installs crds/ on the first install only; keep them current on a reused cluster.
k apply --server-side --field-manager=ocsp-operator-e2e -f charts/ocsp-operator/crds/
log "installing the chart into $release_ns, watching $watch_ns"
"$helm_bin" upgrade --install ocsp-operator charts/ocsp-operator \
  --kubeconfig "$workdir/kubeconfig" \
  --namespace "$release_ns" --create-namespace \
  --set image.repository="$image_repo" --set image.tag="$tag" --set image.pullPolicy=Never \
  --set signerImage.repository="$signer_repo" --set signerImage.tag="$tag" \
  --set-json "watchNamespaces=[\"$watch_ns\"]" \
  --wait --timeout 5m
k -n "$release_ns" rollout status deployment/ocsp-operator --timeout=180s

holder=""
for _ in $(seq 1 60); do
  holder=$(k -n "$release_ns" get lease ocsp-operator -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
  [ -n "$holder" ] && break
  sleep 2
done
[ -n "$holder" ] || die "no replica took the leader Lease $release_ns/ocsp-operator"
log "leader: $holder"

# The installed operator reconciles with its ServiceAccount: a staple whose Secret is missing
# gets that status (no CA is reachable from the nodes: the suite below staples for real).
k apply -f - <<YAML
apiVersion: ocsp-operator.dev/v1alpha1
kind: OcspStaple
metadata: { name: e2e-smoke, namespace: $watch_ns }
spec: { secretName: e2e-smoke-tls }
YAML
k -n "$watch_ns" wait ocspstaple/e2e-smoke --timeout=90s \
  --for=jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'=SecretNotFound
log "the installed operator wrote status on $watch_ns/e2e-smoke"

# 4. a SoftHSM token on a volume, made in the signer image as a signer pod would see it
pin=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
so_pin=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
k -n "$watch_ns" create secret generic softhsm-pin --from-literal=pin="$pin" --from-literal=so-pin="$so_pin" \
  --dry-run=client -o yaml | k apply -f -
k -n "$watch_ns" delete job softhsm-token --ignore-not-found
# The same script as the node tests' (test/node/pkcs11-pool.node.test.ts), from a ConfigMap.
k -n "$watch_ns" create configmap softhsm-token-script --from-file=softhsm-token.sh=test/node/fixtures/softhsm-token.sh \
  --dry-run=client -o yaml | k apply -f -
k apply -f - <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: softhsm-tokens, namespace: $watch_ns }
spec:
  accessModes: [ReadWriteOnce]
  resources: { requests: { storage: 16Mi } }
---
apiVersion: batch/v1
kind: Job
metadata: { name: softhsm-token, namespace: $watch_ns }
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: RuntimeDefault } }
      containers:
        - name: init-token
          image: $signer_repo:$tag
          imagePullPolicy: Never
          securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }
          env:
            - { name: PIN, valueFrom: { secretKeyRef: { name: softhsm-pin, key: pin } } }
            - { name: SO_PIN, valueFrom: { secretKeyRef: { name: softhsm-pin, key: so-pin } } }
            - { name: TOKEN_LABEL, value: ocsp-e2e }
            - { name: KEY_LABEL, value: ocsp-signer }
          command: [/bin/sh, /scripts/softhsm-token.sh]
          volumeMounts:
            - { name: tokens, mountPath: /var/lib/softhsm/tokens }
            - { name: scripts, mountPath: /scripts }
            - { name: tmp, mountPath: /tmp }
      volumes:
        - { name: tokens, persistentVolumeClaim: { claimName: softhsm-tokens } }
        - { name: scripts, configMap: { name: softhsm-token-script } }
        - { name: tmp, emptyDir: {} }
YAML
if ! k -n "$watch_ns" wait job/softhsm-token --for=condition=complete --timeout=180s; then
  k -n "$watch_ns" logs job/softhsm-token >&2 || true
  die "the SoftHSM token job did not complete"
fi
k -n "$watch_ns" logs job/softhsm-token | grep -q 'label:.*ocsp-signer' || die "no ocsp-signer key in the token"
log "SoftHSM token ocsp-e2e with key ocsp-signer on PVC $watch_ns/softhsm-tokens (PIN in Secret $watch_ns/softhsm-pin)"

if [ "${SKIP_SUITE:-0}" = 1 ]; then
  log "SKIP_SUITE=1: done"
  exit 0
fi

# 5. the suite, against this cluster
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build
log "running the suite against kind: vitest run ${*:---project kube --project node}"
if [ $# -eq 0 ]; then set -- --project kube --project node; fi
# The node project's tests (test/node/) are the same as on the project's own node; here they run
# on kind's nodes with the images loaded above.
KUBECONFIG="$workdir/kubeconfig" \
OCSP_NODE_IMAGE_REFS="operator=$image_repo:$tag,operator-upgrade=$image_repo:$tag-upgrade,signer=$signer_repo:$tag,toolbox=localhost/toolbox:test,nginx=localhost/nginx:test,haproxy=localhost/haproxy:test,redis=localhost/redis:test" \
  npx vitest run "$@"
log "passed"
