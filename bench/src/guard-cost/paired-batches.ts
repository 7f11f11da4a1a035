/**
 * The in-process comparison both layer benchmarks run: a baseline and a variant measured in batches
 * in turn, one process, CPU per unit of work; prints a row per round and the medians.
 */

/** The lower middle of the values (the middle of an odd count). */
function lowerMedian(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export interface PairedBatchesOptions<Name extends string> {
  /** The baseline first, then the variant priced against it. */
  names: readonly [Name, Name];
  rounds: number;
  /** What one unit of work is, in the printed figures ('statement', 'call'). */
  unit: string;
  /** Runs one batch of `name` and resolves with its CPU in µs per unit. */
  measure: (name: Name) => Promise<number>;
}

/**
 * One warm-up batch of each (compiled code, full pools), then `rounds` rounds of one batch each,
 * which goes first alternating so a machine that speeds up or slows down within a round weighs on both.
 */
export async function runPairedBatches<Name extends string>(
  options: PairedBatchesOptions<Name>,
): Promise<void> {
  const [base, variant] = options.names;
  const { unit } = options;
  for (const name of options.names) await options.measure(name);
  const per = { base: [] as number[], variant: [] as number[] };
  const header = [`${base} µs/${unit}`, `${variant} µs/${unit}`, `${variant} / ${base}`];
  console.log(`\nround | ${header.join(' | ')} | added µs`);
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? [base, variant] : [variant, base];
    const result = new Map<Name, number>();
    for (const name of order) result.set(name, await options.measure(name));
    const baseCost = result.get(base)!;
    const variantCost = result.get(variant)!;
    per.base.push(baseCost);
    per.variant.push(variantCost);
    console.log(
      `${String(round).padStart(5)} | ${baseCost.toFixed(0).padStart(header[0]!.length)} | ${variantCost.toFixed(0).padStart(header[1]!.length)} | ${(variantCost / baseCost).toFixed(2).padStart(header[2]!.length)} | ${(variantCost - baseCost).toFixed(0).padStart(8)}`,
    );
  }
  const ratios = per.variant.map((v, i) => v / per.base[i]!);
  const added = per.variant.map((v, i) => v - per.base[i]!);
  console.log(
    `\nmedian: ${base} ${lowerMedian(per.base).toFixed(0)} µs, ${variant} ${lowerMedian(per.variant).toFixed(0)} µs a ${unit}; ${variant} / ${base} ${lowerMedian(ratios).toFixed(2)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')}); added ${lowerMedian(added).toFixed(0)} µs (rounds: ${added.map((a) => a.toFixed(0)).join(', ')})`,
  );
}
