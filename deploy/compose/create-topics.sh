#!/bin/bash
# Creates the stack's topics (idempotent). Runs in the apache/kafka image.
set -euo pipefail
topics=/opt/kafka/bin/kafka-topics.sh
for spec in reviews:6 sentiment-events:6 sentiment-dlq:1; do
  "$topics" --bootstrap-server kafka:9092 --create --if-not-exists --topic "${spec%%:*}" --partitions "${spec##*:}" --replication-factor 1
done
"$topics" --bootstrap-server kafka:9092 --list
