/**
 * A fault proxy that delays every chunk by `--latency` ms in each direction (a round trip: twice
 * that), in a process of its own so the load
 * generator's event loop cannot add delay of its own. Prints `port=N` when ready; exits on SIGTERM.
 *   tsx latency-proxy-process.ts --host 127.0.0.1 --port 5432 --latency 5
 */
import { startFaultProxy } from '@db-safeguards/test-postgres';

const arg = (name: string) => process.argv[process.argv.indexOf(`--${name}`) + 1];
const proxy = await startFaultProxy({ targetHost: arg('host')!, targetPort: Number(arg('port')) });
proxy.setLatency(Number(arg('latency')));
console.log(`port=${proxy.port}`);
// Nothing to save on the way out: exit at once, whatever connections are still open.
process.once('SIGTERM', () => process.exit(0));
