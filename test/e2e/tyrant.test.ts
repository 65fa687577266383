/**
 * Tyrant mode through the real `emperor --tyrant` with real users: every vassal runs as the owner
 * of its config, its cmd: alarm actions too, and whatever would let a config act as someone else
 * is refused with a message that says why, leaving everything outside as it was.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, lchown, mkdir, readdir, readFile, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EmperorProcess, FIXTURES, type Record_ } from '../helpers/emperor-process.js';
import { tempDir, waitFor } from '../helpers/wait.js';
import { createUser, processIds, type TestUser } from '../isolation/users.js';
import { leaves, MEMORY_MOUNT, noRootCgroups, procsOf, removeCgroupTree, removeUsers, unique } from './helpers.js';

const ids = join(FIXTURES, 'e2e-ids.sh');

async function fingerprint(path: string): Promise<{ sha: string; mtimeMs: number; size: number }> {
  const st = await stat(path);
  return { sha: createHash('sha256').update(await readFile(path)).digest('hex'), mtimeMs: st.mtimeMs, size: st.size };
}

/** The program a worker runs: the leaf below the exec helper the emperor reports. */
async function program(helper: number): Promise<number> {
  return waitFor(async () => {
    for (const pid of await leaves(helper)) {
      if ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'sleep') return pid;
    }
    return undefined;
  }, { what: `the program below worker ${helper}` });
}

async function assertRunsAs(helper: number, user: TestUser): Promise<number> {
  const pid = await program(helper);
  const got = await processIds(pid);
  assert.deepEqual(got.uid, [user.uid, user.uid, user.uid, user.uid], `real, effective, saved and fs uid of ${pid}`);
  assert.deepEqual(got.gid, [user.gid, user.gid, user.gid, user.gid], `real, effective, saved and fs gid of ${pid}`);
  assert.deepEqual(got.groups, [], 'no supplementary groups');
  assert.equal(got.noNewPrivs, 1, 'no_new_privs: no setuid program can raise it');
  return pid;
}

/** Live processes whose real uid is the user's. */
async function processesOf(user: TestUser): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const status = await readFile(`/proc/${e}/status`, 'utf8').catch(() => '');
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    if (uid === String(user.uid) && state !== 'Z') out.push(`${e} ${(/^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?')}`);
  }
  return out;
}

function idLine(user: TestUser): string {
  return `uid=${user.uid}(${user.name}) gid=${user.gid}(${user.name}) groups=${user.gid}(${user.name})`;
}

describe('tyrant mode through the emperor command (real users)', { skip: noRootCgroups }, () => {
  let alice: TestUser;
  let bob: TestUser;
  let base: string;
  let cleanup: () => Promise<void>;
  let vassals: string;
  let homeA: string;
  let homeB: string;
  let rootOnly: string;
  let secret: string;
  let emp: EmperorProcess;
  const cgroup = unique('e2e-tyrant');
  const cgroups = [cgroup];
  let seq = 0;

  /** Puts a config in place with its owner and mode already set, as one rename (no root-owned moment). */
  async function place(dir: string, name: string, text: string, owner: TestUser | undefined, mode = 0o644): Promise<string> {
    const tmp = join(base, `.${name}.${++seq}.tmp`);
    await writeFile(tmp, text);
    await chmod(tmp, mode);
    if (owner) await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, join(dir, name));
    return join(dir, name);
  }

  function vassalConfig(home: string, extra = ''): string {
    return `[vassal]\ncommand = /bin/sh ${ids}\nchdir = ${home}\nready = alive:200\n${extra}`;
  }

  async function refused(e: EmperorProcess, vassal: string, code = 'EMP_ERR_PERMISSION'): Promise<string> {
    const r = await e.event(vassal, 'config-error', 30_000);
    assert.equal(r.code, code, String(r.msg));
    return String(r.msg);
  }

  function started(e: EmperorProcess, vassal: string): Record_[] {
    return e.records.filter((r) => r.vassal === vassal && (r.event === 'start' || r.event === 'ready' || typeof r.line === 'string'));
  }

  before(async () => {
    alice = await createUser();
    bob = await createUser();
    ({ dir: base, cleanup } = await tempDir('emperor-e2e-tyrant-'));
    await chmod(base, 0o755);
    vassals = join(base, 'vassals');
    homeA = join(base, 'home-a');
    homeB = join(base, 'home-b');
    await mkdir(vassals, { mode: 0o755 });
    for (const [home, user] of [[homeA, alice], [homeB, bob]] as const) {
      await mkdir(home, { mode: 0o755 });
      await chown(home, user.uid, user.gid);
    }
    rootOnly = join(base, 'root-only.txt');
    await writeFile(rootOnly, 'untouched\n', { mode: 0o644 });
    // A root vassal's config holding a secret: only root may read it.
    secret = join(base, 'secret.ini');
    await writeFile(secret, vassalConfig(homeA, 'env = DB_PASSWORD=hunter2\n'), { mode: 0o600 });
    emp = new EmperorProcess(['--tyrant', '--no-control', '--throttle', '500', vassals], { env: { E2E_EMPEROR_SECRET: 'emperor-only' } });
    await emp.event(undefined, 'start', 30_000);
  });

  after(async () => {
    await emp?.stop();
    await removeUsers([alice, bob]);
    for (const cg of cgroups) await removeCgroupTree(`emperor/${cg}`);
    await cleanup?.();
  });

  test('the worker and its cmd: alarm actions run as the owner of the config, in its cgroup, without the emperor\'s environment', { timeout: 60_000 }, async () => {
    await place(vassals, 'app.ini', vassalConfig(homeA, `cgroup = ${cgroup}
alarm = note cmd:id > ${join(homeA, 'alarm-id.txt')}
alarm = grab cmd:echo pwned >> ${rootOnly}
log-alarm = note,grab ^trigger-alarm$
`), alice);
    const before = await fingerprint(rootOnly);
    const ready = await emp.event('app.ini', 'ready', 30_000);
    const helper = (ready.pids as number[])[0]!;
    const pid = await assertRunsAs(helper, alice);
    assert.equal((await emp.line('app.ini', /^id /)).line, `id ${idLine(alice)}`);
    assert.equal((await emp.line('app.ini', /^secret /)).line, 'secret none');
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    assert.ok(!environ.some((v) => v.startsWith('E2E_EMPEROR_SECRET=')), "the emperor's environment stays with the emperor");
    assert.ok(environ.includes(`USER=${alice.name}`));
    const path = `${MEMORY_MOUNT}/emperor/${cgroup}`;
    assert.ok((await procsOf(path)).includes(pid), `the program is in ${path}`);

    // cmd: runs as the user: `id` says so, in a file the user owns.
    const idFile = join(homeA, 'alarm-id.txt');
    const written = await waitFor(async () => (await readFile(idFile, 'utf8').catch(() => '')).trim() || undefined, { what: 'the note alarm to write id', timeoutMs: 20_000 });
    assert.equal(written, idLine(alice));
    assert.equal((await stat(idFile)).uid, alice.uid);
    // ...and what the user may not write, it cannot write through an alarm either.
    const failed = await emp.waitFor((r) => r.vassal === 'app.ini' && r.alarm === 'grab' && r.level === 'error', 'the grab alarm to fail', 20_000);
    assert.match(String(failed.msg), /^\[emperor-alarm\] alarm "grab" \(cmd\) failed: cmd exited with code [1-9]\d*$/);
    const output = await emp.waitFor((r) => r.vassal === 'app.ini' && r.alarm === 'grab' && /cmd output/.test(String(r.msg)), 'the grab alarm output');
    assert.match(String(output.msg), new RegExp(`${rootOnly}: Permission denied`));
    assert.deepEqual(await fingerprint(rootOnly), before);
  });

  test('a cmd: action is held like a worker: no_new_privs, inside the vassal\'s cgroup, nothing it starts outlives the vassal', { timeout: 60_000 }, async () => {
    const cg = unique('e2e-tyrant-cmd');
    cgroups.push(cg);
    const status = join(homeA, 'cmd-status.txt');
    const where = join(homeA, 'cmd-cgroup.txt');
    const others = new Set(await processesOf(alice));
    await place(vassals, 'cmd.ini', vassalConfig(homeA, `cgroup = ${cg}
alarm = spawn cmd:grep -E '^(Uid|NoNewPrivs):' /proc/self/status > ${status}; grep memory /proc/self/cgroup > ${where}; setsid sh -c 'exec sleep 1000' </dev/null >/dev/null 2>&1 &
log-alarm = spawn ^trigger-alarm$
`), alice);
    await emp.event('cmd.ini', 'ready', 30_000);
    const text = await waitFor(async () => (await readFile(status, 'utf8').catch(() => '')).includes('NoNewPrivs') && readFile(status, 'utf8'), { what: 'the cmd: action to report', timeoutMs: 20_000 });
    assert.match(text, new RegExp(`^Uid:\\s+${alice.uid}\\s+${alice.uid}\\s+${alice.uid}\\s+${alice.uid}$`, 'm'));
    assert.match(text, /^NoNewPrivs:\s+1$/m, 'no setuid program raises what a cmd: action runs');
    assert.equal((await readFile(where, 'utf8')).trim().split(':')[2], `/emperor/${cg}`, "it runs in the vassal's cgroup, under its limits");
    const stopped = emp.nextEvent('cmd.ini', 'stopped', 30_000);
    await unlink(join(vassals, 'cmd.ini'));
    await stopped;
    assert.deepEqual((await processesOf(alice)).filter((p) => !others.has(p)), [], 'nothing the vassal or its alarm started is left');
  });

  test("$(VAR) in a tyrant config reads the vassal's environment, not the root emperor's", { timeout: 60_000 }, async () => {
    await place(vassals, 'env.ini', vassalConfig(homeA, 'env = DB_PASSWORD=$(E2E_EMPEROR_SECRET)\nenv = WHERE=$(HOME)\n'), alice);
    const ready = await emp.event('env.ini', 'ready', 30_000);
    const pid = await assertRunsAs((ready.pids as number[])[0]!, alice);
    assert.equal((await emp.line('env.ini', /^secret /)).line, 'secret none', "the emperor's variable is not the vassal's to read");
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    assert.ok(environ.includes(`WHERE=${(await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith(`${alice.name}:`))!.split(':')[5]}`), "$(HOME) is the user's home");
    const stopped = emp.nextEvent('env.ini', 'stopped', 30_000);
    await unlink(join(vassals, 'env.ini'));
    await stopped;
  });

  test('refused with a reason, nothing started, nothing outside changed: root-owned config, symlink to one, cgroup ../escape, logto /etc/passwd, uid = 0', { timeout: 60_000 }, async () => {
    const passwd = await fingerprint('/etc/passwd');
    const escapes = [`${MEMORY_MOUNT}/escape`, `${MEMORY_MOUNT}/emperor/escape`];
    for (const e of escapes) assert.equal(existsSync(e), false, `${e} does not exist before`);

    await place(vassals, 'root.ini', vassalConfig(homeA), undefined);
    const link = join(vassals, 'link.ini');
    await symlink(secret, link);
    await lchown(link, alice.uid, alice.gid);
    const escape = await place(vassals, 'escape.ini', vassalConfig(homeA, 'cgroup = ../escape\n'), alice);
    const logto = await place(vassals, 'passwd.ini', vassalConfig(homeA, 'logto = /etc/passwd\n'), alice);
    const uid = await place(vassals, 'uid.ini', vassalConfig(homeA, 'uid = 0\n'), alice);
    // Bob next to alice's running app.ini: not its cgroup, not inside it, not its eventfd files, nothing outside the root.
    const outside = unique('e2e-outside');
    const cgroups2: Array<[string, string]> = [
      ['same-cg.ini', `cgroup = ${cgroup}\n`],
      ['inner-cg.ini', `cgroup = ${cgroup}/inner\n`],
      ['abs-cg.ini', `cgroup = ${MEMORY_MOUNT}/${outside}\n`],
      ['peek.ini', `cgroup = ${unique('e2e-peek')}\nalarm = mem log:mem\nalarm-eventfd = mem ${MEMORY_MOUNT}/emperor/${cgroup}/cgroup.event_control ${MEMORY_MOUNT}/emperor/${cgroup}/memory.usage_in_bytes 1\n`],
    ];
    for (const [name, extra] of cgroups2) await place(vassals, name, vassalConfig(homeB, extra), bob);

    assert.match(await refused(emp, 'root.ini'), /tyrant mode: refusing to run a vassal as uid 0 \(root\): its config .*\/root\.ini is owned by uid 0 gid 0; give it to the user it should run as$/);
    assert.match(await refused(emp, 'link.ini'), /tyrant mode: refusing to run a vassal as uid 0 \(root\): its config .*\/link\.ini is owned by uid 0 gid 0/);
    // The config's own checks refuse it already, before tyrant mode confines the cgroup under the root.
    assert.equal(await refused(emp, 'escape.ini', 'EMP_ERR_CONFIG_INVALID'), `config rejected: ${escape}:5: cgroup: expected a cgroup name or path without '..', got '../escape'`);
    assert.equal(await refused(emp, 'passwd.ini'), `config rejected: ${logto}:5: logto: uid ${alice.uid} gid ${alice.gid} may not append to '/etc/passwd' (no write permission on /etc/passwd)`);
    assert.equal(await refused(emp, 'uid.ini'), `config rejected: ${uid}:5: uid: a vassal cannot choose its user in tyrant mode (it runs as its config's owner, uid ${alice.uid} gid ${alice.gid})`);

    assert.match(await refused(emp, 'same-cg.ini', 'EMP_ERR_CONFIG_INVALID'), new RegExp(`same-cg\\.ini:5: cgroup: ${MEMORY_MOUNT}/emperor/${cgroup} is already the cgroup of vassal 'app\\.ini'$`));
    assert.match(await refused(emp, 'inner-cg.ini'), new RegExp(`inner-cg\\.ini:5: cgroup: ${MEMORY_MOUNT}/emperor/${cgroup}/inner would lie inside the cgroup of vassal 'app\\.ini' \\(${MEMORY_MOUNT}/emperor/${cgroup}\\); tyrant mode keeps vassals' cgroups apart$`));
    assert.match(await refused(emp, 'abs-cg.ini'), new RegExp(`abs-cg\\.ini:5: (%\\(cgroup\\): )?cgroup: tyrant mode keeps every vassal's cgroup under the cgroup root 'emperor', and '${MEMORY_MOUNT}/${outside}' is outside it$`));
    assert.match(await refused(emp, 'peek.ini'), /peek\.ini:7: alarm-eventfd: tyrant mode keeps a vassal's eventfd files inside its own cgroup: control file '.*' is not .*\/cgroup\.event_control$/);
    assert.equal(existsSync(`${MEMORY_MOUNT}/emperor/${cgroup}/inner`), false);
    assert.equal(existsSync(`${MEMORY_MOUNT}/${outside}`), false);

    for (const v of ['root.ini', 'link.ini', 'escape.ini', 'passwd.ini', 'uid.ini', ...cgroups2.map(([n]) => n)]) assert.deepEqual(started(emp, v), [], `${v} never started`);
    assert.ok(!emp.raw.some((l) => l.includes('hunter2')), "the root config's secret was never read out");
    assert.deepEqual(await fingerprint('/etc/passwd'), passwd, '/etc/passwd is unchanged');
    for (const e of escapes) assert.equal(existsSync(e), false, `${e} was not created`);
  });

  test('chown of a running vassal\'s config stops it; it starts again as the new owner', { timeout: 60_000 }, async () => {
    const first = await emp.event('app.ini', 'ready', 30_000);
    const oldHelper = (first.pids as number[])[0]!;
    const oldProgram = await program(oldHelper);
    const changed = emp.nextEvent('app.ini', 'owner-changed', 30_000);
    await chown(join(vassals, 'app.ini'), bob.uid, bob.gid);
    const ev = await changed;
    assert.equal(ev.uid, bob.uid);
    const at = emp.records.indexOf(ev);
    const stopped = await emp.waitFor((r) => emp.records.indexOf(r) > at && r.vassal === 'app.ini' && r.event === 'stopped', 'the old vassal to stop', 30_000);
    const again = await emp.waitFor((r) => emp.records.indexOf(r) > emp.records.indexOf(stopped) && r.vassal === 'app.ini' && r.event === 'ready', 'the vassal to start again', 30_000);
    assert.equal(existsSync(`/proc/${oldProgram}`), false, "alice's program is gone");
    await assertRunsAs((again.pids as number[])[0]!, bob);
    await emp.waitFor((r) => emp.records.indexOf(r) > at && r.vassal === 'app.ini' && r.line === `id ${idLine(bob)}`, "the worker's id line as bob");
    // Bob's alarm may not overwrite what alice's wrote.
    await emp.waitFor((r) => emp.records.indexOf(r) > at && r.vassal === 'app.ini' && r.alarm === 'note' && r.level === 'error', "bob's note alarm to fail", 20_000);
    assert.equal((await readFile(join(homeA, 'alarm-id.txt'), 'utf8')).trim(), idLine(alice));
  });

  test('--tyrant-nofollow: a link counts as its owner\'s, but never opens a file that owner could not read', { timeout: 60_000 }, async () => {
    const dir = join(base, 'vassals-nofollow');
    await mkdir(dir, { mode: 0o755 });
    const open = join(base, 'open.ini');
    await writeFile(open, vassalConfig(homeA), { mode: 0o644 });
    const mine = await place(base, 'alice-own.ini', vassalConfig(homeA), alice);
    const links: Array<[string, string, TestUser | undefined]> = [
      ['secret-link.ini', secret, alice],
      ['open-link.ini', open, alice],
      ['root-link.ini', mine, undefined],
    ];
    for (const [name, target, owner] of links) {
      await symlink(target, join(dir, name));
      if (owner) await lchown(join(dir, name), owner.uid, owner.gid);
    }
    const nf = new EmperorProcess(['--tyrant', '--tyrant-nofollow', '--no-control', dir]);
    try {
      const ready = await nf.event('open-link.ini', 'ready', 30_000);
      await assertRunsAs((ready.pids as number[])[0]!, alice);
      assert.match(await refused(nf, 'root-link.ini'), /refusing to run a vassal as uid 0 \(root\): its config .*\/root-link\.ini is owned by uid 0 gid 0/);
      assert.equal(await refused(nf, 'secret-link.ini'), `config rejected: ${join(dir, 'secret-link.ini')}: tyrant mode: the config runs as its owner (uid ${alice.uid} gid ${alice.gid}), who could not read it: ${join(dir, 'secret-link.ini')}: Permission denied; a symlink makes its owner count (--tyrant-nofollow) only for a file that owner may read`);
      assert.deepEqual(started(nf, 'secret-link.ini'), []);
      assert.ok(!nf.raw.some((l) => l.includes('hunter2')), "the root config's secret never reached alice's vassal");
    } finally {
      await nf.stop();
    }
  });

  test('--tyrant without root refuses to start (exit 2)', { timeout: 30_000 }, async () => {
    const dir = join(base, 'vassals-nobody');
    await mkdir(dir, { mode: 0o755 });
    const e = new EmperorProcess(['--tyrant', '--no-control', dir], { wrapper: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'] });
    const { code } = await e.exited;
    assert.equal(code, 2);
    assert.match(e.stderr.join(''), /^emperor: --tyrant: tyrant mode runs every vassal as its config's owner and needs a root emperor \(this one runs as uid 65534\)\n$/);
    assert.deepEqual(e.records.filter((r) => r.event === 'start'), []);
  });
});
