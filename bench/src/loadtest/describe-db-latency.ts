/**
 * What `--db-latency MS` means: the fault proxy delays every chunk MS ms in each direction, so every
 * round trip to the database takes 2 × MS ms longer.
 */
export function describeDbLatency(msEachWay: number): string {
  return `${msEachWay} ms each way (a ${2 * msEachWay} ms round trip)`;
}
