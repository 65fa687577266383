/**
 * `converge`: 1,000 vassal files dropped at once into a running emperor's directory until all are
 * ready; then the emperor's RSS and idle CPU with the 1,000 vassals, its stats answers meanwhile,
 * its shutdown, and a cold start with the files already present.
 */
import { runFleet } from './lib/fleet.js';
import type { Benchmark } from './lib/types.js';

const converge: Benchmark = {
  name: 'converge',
  title: 'Convergence and footprint: 1,000 vassals',
  run(ctx) {
    return runFleet(ctx, {
      count: 1000,
      targets: { converge: { op: '<=', value: 3 }, rss: { op: '<=', value: 120 }, idleCpu: { op: '<=', value: 0.25 }, statsMs: { op: '<', value: 100 } },
      idleS: ctx.quick ? 10 : 30,
      restS: ctx.quick ? 15 : 30,
      coldStart: true,
      raiseNofile: true,
      timeoutMs: 120_000,
    });
  },
};

export default converge;
