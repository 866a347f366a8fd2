#!/bin/bash
# Sends sample-texts.jsonl to $TOPIC one line every $INTERVAL_SECONDS, round and round, through
# Kafka's own console producer. Runs in the apache/kafka image.
set -euo pipefail
while true; do
  while IFS= read -r line; do
    printf '%s\n' "$line"
    sleep "${INTERVAL_SECONDS:-0.5}"
  done < /compose/sample-texts.jsonl
done | /opt/kafka/bin/kafka-console-producer.sh --bootstrap-server kafka:9092 --topic "${TOPIC:-reviews}"
