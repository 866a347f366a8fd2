#!/usr/bin/env bash
# check.sh: validate the Prometheus rules and run their unit tests (make test-rules).
#   promtool check rules  - syntax, PromQL, templates in annotations
#   promtool test rules   - tests/*.yml: every alert fires when it should and stays quiet otherwise
# Installs promtool with install.sh when it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

bash ./install.sh

promtool check rules rules/*.yml
promtool test rules tests/*.yml

# Every alert must have a summary, a runbook_url and at least one unit test naming it.
status=0
for alert in $(sed -n 's/^ *- alert: *//p' rules/alerts.yml); do
  grep -q "alertname: $alert\$" tests/*.yml || { echo "check.sh: alert $alert has no promtool test in tests/" >&2; status=1; }
done
for alert in $(sed -n 's/^ *- alert: *//p' rules/alerts.yml); do
  anchor="docs/metrics.md#runbook-$(echo "$alert" | tr '[:upper:]' '[:lower:]')"
  grep -q "runbook_url: $anchor\$" rules/alerts.yml || { echo "check.sh: alert $alert: runbook_url annotation should be $anchor" >&2; status=1; }
  grep -q "^### Runbook: $alert\$" ../../docs/metrics.md || { echo "check.sh: docs/metrics.md has no '### Runbook: $alert' section" >&2; status=1; }
done
alerts=$(grep -c '^ *- alert:' rules/alerts.yml)
# runbook_url, not runbook: the name Alertmanager templates and Grafana's alert UI look for.
if grep -q "^ *runbook:" rules/alerts.yml; then echo "check.sh: use runbook_url, not runbook" >&2; status=1; fi
for annotation in summary runbook_url; do
  n=$(grep -c "^ *$annotation:" rules/alerts.yml)
  [ "$n" -eq "$alerts" ] || { echo "check.sh: $n of $alerts alerts have a '$annotation' annotation" >&2; status=1; }
done
exit $status
