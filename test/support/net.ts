import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Lowest port of the kernel's ephemeral range: outgoing connections take their local port from
 * [low, high], and so does listen(0). A port picked with listen(0) and handed to a child process
 * can be taken by one of the many Kafka connections the suites open before the child binds it:
 * CI saw a joiner of the fault suite's scale scenario die with EADDRINUSE on 127.0.0.1:44611 that
 * way (two scorers launched at once, three brokers' worth of connections open).
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const LOW = ephemeralLow();
/** Ports this process handed out already: two launches at once never get the same one. */
const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port free on 127.0.0.1 right now, below the ephemeral range (so no outgoing connection
 * takes it before its user binds it) and not handed out before by this process.
 */
export async function freePort(): Promise<number> {
  const from = Math.max(1024, LOW - 16_384);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = from + Math.floor(Math.random() * (LOW - from));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${from}-${LOW - 1} after 200 tries`);
}
