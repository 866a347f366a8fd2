// `helm test`: the release's metrics Service answers as Prometheus and the kubelet need it to.
// Run by templates/tests/sidecar-check.yaml with the app's own image (node, no extra image to pull),
// and by test/integration/sidecar.test.ts against a real sidecar and scorer. Plain Node 24, no imports.
//   SIDECAR_URL   base URL of the sidecar, e.g. http://sst-sentiment-stream-metrics:9464
//   GROUP_ID      the scorer's consumer group;  INPUT_TOPICS  its input topics, comma-separated
//   TIMEOUT_MS    how long to keep trying while the pods become ready (default 60000)
const { SIDECAR_URL, GROUP_ID, INPUT_TOPICS } = process.env;
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 60_000);
if (!SIDECAR_URL || !GROUP_ID || !INPUT_TOPICS || !(timeoutMs > 0)) {
  console.error('sidecar-check: SIDECAR_URL, GROUP_ID and INPUT_TOPICS are required (TIMEOUT_MS a positive number)');
  process.exit(2);
}
const base = SIDECAR_URL.replace(/\/+$/, '');
const topics = INPUT_TOPICS.split(',').map((t) => t.trim()).filter(Boolean);
const quoted = (v) => JSON.stringify(v); // label values as the exposition format writes them

/** Each check returns undefined when it passes, or what was wrong. */
const checks = {
  '/readyz': async () => {
    const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) });
    const body = await res.text();
    if (res.status !== 200) return `HTTP ${res.status} ${body}`;
    return JSON.parse(body).status === 'ready' ? undefined : `unexpected body ${body}`;
  },
  '/metrics': async () => {
    const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(15_000) });
    const page = await res.text();
    if (res.status !== 200) return `HTTP ${res.status}`;
    if (!/^text\/plain/.test(res.headers.get('content-type') ?? '')) return `content-type ${res.headers.get('content-type')}`;
    const missing = [];
    // The scorer's own metrics reached the page through the sidecar ...
    if (!/^sentiment_scorer_up 1$/m.test(page)) missing.push('sentiment_scorer_up 1');
    if (!/^sentiment_scorer_ready 1$/m.test(page)) missing.push('sentiment_scorer_ready 1 (the scorer\'s own metrics)');
    // ... and the consumer lag of the release's group, for every input topic.
    for (const topic of topics) {
      const line = new RegExp(`^kafka_consumergroup_lag_sum\\{[^}]*consumergroup=${regexEscape(quoted(GROUP_ID))}[^}]*topic=${regexEscape(quoted(topic))}[^}]*\\} \\d`, 'm');
      if (!line.test(page)) missing.push(`kafka_consumergroup_lag_sum for group ${GROUP_ID}, topic ${topic}`);
    }
    return missing.length === 0 ? undefined : `missing ${missing.join('; ')}`;
  },
};

function regexEscape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const deadline = Date.now() + timeoutMs;
for (const [name, check] of Object.entries(checks)) {
  for (;;) {
    const problem = await check().catch((err) => `${err.name}: ${err.cause?.code ?? err.message}`);
    if (problem === undefined) {
      console.log(`ok ${base}${name}`);
      break;
    }
    if (Date.now() > deadline) {
      console.error(`FAIL ${base}${name}: ${problem}`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}
