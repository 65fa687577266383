/** /proc readings: a worker's whole process tree, its memory and CPU. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { processTree, readProcStat, readSmapsRollup } from '../../src/ops/proc.js';
import { waitFor } from '../helpers/wait.js';

test('the tree below a process includes grandchildren; stat and smaps_rollup give memory and CPU', async () => {
  // sh -> sh -> sleep: two levels below the root.
  const root = spawn('sh', ['-c', 'sh -c "sleep 30 & wait" & wait'], { stdio: 'ignore', detached: true });
  try {
    // Between fork and exec a shell's child is fleeting: wait until all three are settled.
    const { tree, stats } = await waitFor(async () => {
      const t = await processTree([root.pid!]);
      if (t.length < 3) return undefined;
      const st = await Promise.all(t.map(readProcStat));
      return st.every((x) => x !== undefined && x.rssBytes > 0) ? { tree: t, stats: st } : undefined;
    }, { what: 'three settled processes in the tree' });
    assert.equal(tree[0], root.pid);
    assert.ok(stats.every((s) => s !== undefined && s.cpuSeconds >= 0));
    assert.equal(stats[1]!.ppid, root.pid);
    const roll = await readSmapsRollup(root.pid!);
    assert.ok(roll && roll.rss > 0 && roll.pss > 0 && roll.pss <= roll.rss && roll.uss <= roll.rss);
    assert.equal(await readProcStat(2 ** 22 + 1), undefined, 'a pid that does not exist is simply absent');
  } finally {
    process.kill(-root.pid!, 'SIGKILL');
  }
});
