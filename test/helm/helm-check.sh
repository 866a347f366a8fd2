#!/usr/bin/env bash
# make helm-check: the Helm chart, the images and the compose stack, proven without a cluster or a
# Docker engine.
#   1. the chart's copies of deploy/prometheus rules and deploy/grafana dashboards are byte-identical
#      to the originals (one source; `make helm-sync` rewrites them);
#   2. docker-compose validates deploy/compose/docker-compose.yml;
#   3. the vitest suite under test/helm/: Helm's own engine (helm-java, built here with Maven) lints
#      the chart and renders it for several value sets, every object is validated against the
#      Kubernetes/KEDA/prometheus-operator schemas, the Dockerfiles are parsed and validated, and the
#      compose file and its Prometheus config are checked with docker-compose and promtool.
# First run: Maven fetches helm-java into ~/.m2, apt installs docker-compose (and promtool via
# deploy/prometheus/install.sh) when missing. After that it runs offline.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

for tool in java mvn node; do
  command -v "$tool" >/dev/null || { echo "helm-check: $tool is needed (Java 17 + Maven run Helm's engine; Node runs the tests)" >&2; exit 1; }
done
if ! command -v docker-compose >/dev/null; then
  # Debian's package: validates compose files with no Docker engine.
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
  else
    echo "helm-check: docker-compose is needed to validate deploy/compose (apt-get install docker-compose)" >&2
    exit 1
  fi
fi
command -v promtool >/dev/null || bash deploy/prometheus/install.sh

echo "== chart files = deploy/ originals"
node test/helm/sync-chart-files.mjs --check

echo "== docker-compose config (deploy/compose/docker-compose.yml)"
docker-compose -f deploy/compose/docker-compose.yml config -q
echo "valid"

echo "== types of the suite"
npx tsc -p test/helm

echo "== helm lint + template (Helm engine via helm-java), schema validation, Dockerfiles, compose"
npx vitest run --config test/helm/vitest.config.ts ${VITEST_ARGS:-}
