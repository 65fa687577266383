/**
 * `converge-10k`: 10,000 vassal files dropped at once, the emperor answering stats meanwhile, and
 * its RSS with them. Needs about 10,000 descriptors in the emperor (one output pipe per worker),
 * so the soft limit is raised to the hard one (`ulimit -n $(ulimit -Hn)`: 20,000 here).
 */
import { runFleet } from './lib/fleet.js';
import type { Benchmark } from './lib/types.js';

const converge10k: Benchmark = {
  name: 'converge-10k',
  title: 'Convergence and footprint: 10,000 vassals',
  heavy: true,
  run(ctx) {
    return runFleet(ctx, {
      count: 10_000,
      targets: { converge: { op: '<=', value: 40 }, rss: { op: '<=', value: 500 }, statsMs: { op: '<', value: 100 } },
      idleS: 10,
      restS: 20,
      coldStart: false,
      raiseNofile: true,
      timeoutMs: 300_000,
    });
  },
};

export default converge10k;
