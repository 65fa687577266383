/**
 * Tyrant mode with real users: credentials come from the config's owner, every escape attempt is
 * refused with a message naming what was refused, and what does run runs as the user.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, lchown, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { close, constants, open, write } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AlarmSubsystem } from '../../src/alarms/subsystem.js';
import { loadVassalConfig } from '../../src/config/load.js';
import { planVassal, type VassalPlan } from '../../src/core/plan.js';
import { Worker } from '../../src/core/worker.js';
import { Isolation } from '../../src/isolation/isolation.js';
import { userById } from '../../src/isolation/passwd.js';
import { ownerChanged, tyrantBaseEnv, tyrantIdentity } from '../../src/isolation/tyrant.js';
import { mayAccess } from '../../src/isolation/user-access.js';
import { openAppendAsUser, takeOver } from '../../src/isolation/user-open.js';
import { helperCredentials } from '../../src/isolation/credentials.js';
import { execHelperArgs, execHelperPath } from '../../src/native/exec-helper.js';
import { MemoryLogger } from '../../src/log/logger.js';
import { createDirMonitor } from '../../src/monitors/dir.js';
import type { MonitorContext, VassalSpec } from '../../src/monitors/types.js';
import { descendants } from '../helpers/procs.js';
import { tempDir, waitFor } from '../helpers/wait.js';
import { noCgroups, testSettings } from './cgroups.js';
import { createGroup, createUser, processIds, type TestGroup, type TestUser } from './users.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const idsFixture = join(fixtures, 'iso-ids.sh');
const notRoot = process.getuid?.() !== 0 ? 'needs root to create users and switch to them' : false;
const writeAsync = promisify(write);
const run = promisify(execFile);
const openAsync = promisify(open);
const closeAsync = promisify(close);

/** The credentials of the worker's program itself (with a pid namespace, the helper's processes above it stay root and run nothing of the vassal's). */
async function programIds(worker: Worker): Promise<Awaited<ReturnType<typeof processIds>>> {
  const procs = await descendants([worker.pid]);
  for (const p of procs) {
    const comm = (await readFile(`/proc/${p.pid}/comm`, 'utf8').catch(() => '')).trim();
    if (comm === 'sleep') return processIds(p.pid);
  }
  throw new Error(`no sleep below worker ${worker.pid}: ${JSON.stringify(procs)}`);
}

/** What the fixture printed of /proc/self/status. */
function printed(lines: readonly string[], key: string): number[] {
  return (lines.find((l) => l.startsWith(`${key}:`)) ?? '').slice(key.length + 1).trim().split(/\s+/).filter(Boolean).map(Number);
}

async function sha(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

function monitorContext(nofollow: boolean): MonitorContext {
  return {
    freq: 3,
    extraExtensions: [],
    nodeName: 'test',
    stateDir: '/nonexistent',
    tyrant: true,
    tyrantNofollow: nofollow,
    settleMs: 0,
    maxConfigBytes: 1024 * 1024,
    log: new MemoryLogger(),
  };
}

/** The specs the dir monitor announces first: owners as tyrant mode reads them. */
async function specsOf(dir: string, nofollow: boolean): Promise<Map<string, VassalSpec>> {
  const ac = new AbortController();
  const out = new Map<string, VassalSpec>();
  try {
    for await (const ev of createDirMonitor(dir, monitorContext(nofollow)).events(ac.signal)) {
      if (ev.type === 'snapshot') {
        for (const s of ev.specs) out.set(s.name, s);
        return out;
      }
    }
  } finally {
    ac.abort();
  }
  return out;
}

interface Setup {
  iso: Isolation;
  plan(spec: VassalSpec): Promise<VassalPlan>;
}

async function tyrantSetup(initGroups: boolean, cgroupRoot?: string): Promise<Setup> {
  const iso = await Isolation.create({ tyrant: true, tyrantInitgroups: initGroups, log: new MemoryLogger(), ...(cgroupRoot ? { cgroupRoot } : {}) });
  return {
    iso,
    plan: async (spec) => {
      const loaded = loadVassalConfig(spec.config, { name: spec.name, hostname: 'test', env: process.env, computed: iso.computed() });
      assert.equal(loaded.kind, 'vassal');
      if (loaded.kind !== 'vassal') throw new Error('not a vassal');
      return planVassal(spec, loaded.config, { env: { PATH: process.env.PATH, PGPASSWORD: 'secret', LANG: 'C.UTF-8' }, defaultCwd: dirname(spec.config.path!), isRoot: true, ...iso.planContext() });
    },
  };
}

describe('tyrant mode (real users)', { skip: notRoot }, () => {
  let user: TestUser;
  let other: TestUser;
  let extra: TestGroup;
  let dir: string;
  let cleanupDir: () => Promise<void>;

  before(async () => {
    extra = await createGroup();
    user = await createUser([extra.name]);
    other = await createUser();
    ({ dir, cleanup: cleanupDir } = await tempDir('emperor-tyrant-'));
    // The user's own corner: a directory only it can write.
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'vassals'));
    await mkdir(join(dir, 'home'));
    await chown(join(dir, 'home'), user.uid, user.gid);
  });

  after(async () => {
    await cleanupDir?.();
    await user?.remove();
    await other?.remove();
    await extra?.remove();
  });

  async function config(name: string, text: string, owner: { uid: number; gid: number } | undefined): Promise<string> {
    const path = join(dir, 'vassals', name);
    await writeFile(path, text);
    if (owner) await chown(path, owner.uid, owner.gid);
    return path;
  }

  it('refuses --tyrant without root and a cgroup root it cannot confine to', async () => {
    await assert.rejects(Isolation.create({ tyrant: true, tyrantInitgroups: false, log: new MemoryLogger(), isRoot: false }), { code: 'EMP_ERR_USAGE', message: /--tyrant: .*needs a root emperor/ });
    await assert.rejects(Isolation.create({ tyrant: true, tyrantInitgroups: false, log: new MemoryLogger(), cgroupRoot: '/' }), { code: 'EMP_ERR_USAGE', message: /--cgroup-root: tyrant mode confines/ });
  });

  it('runs workers as the config owner: no supplementary groups, no_new_privs, a clean environment', async () => {
    const { plan } = await tyrantSetup(false);
    await config('mine.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\nenv = APP=1\n`, user);
    const spec = (await specsOf(join(dir, 'vassals'), false)).get('mine.ini')!;
    assert.equal(spec.uid, user.uid);
    const p = await plan(spec);
    assert.deepEqual(p.credentials, { uid: user.uid, gid: user.gid, groups: [user.gid] });
    assert.equal(p.worker.env.PGPASSWORD, undefined, "the emperor's secrets stay with the emperor");
    assert.equal(p.worker.env.APP, '1');
    assert.equal(p.worker.env.LANG, 'C.UTF-8');

    const lines: string[] = [];
    const w = Worker.spawn(p.worker, (l) => lines.push(l));
    try {
      await waitFor(() => lines.includes('ready'), { what: 'the worker to report' });
      assert.deepEqual(printed(lines, 'Uid'), [user.uid, user.uid, user.uid, user.uid]);
      assert.deepEqual(printed(lines, 'Groups'), []);
      assert.deepEqual(printed(lines, 'NoNewPrivs'), [1]);
      const ids = await programIds(w);
      assert.deepEqual(ids.uid, [user.uid, user.uid, user.uid, user.uid]);
      assert.deepEqual(ids.gid, [user.gid, user.gid, user.gid, user.gid]);
      assert.deepEqual(ids.groups, []);
      assert.equal(ids.noNewPrivs, 1);
      assert.ok(lines.includes(`cwd ${join(dir, 'home')}`));
      assert.ok(lines.includes(`home ${(await userById(user.uid))!.home} user ${user.name}`), lines.join('\n'));
    } finally {
      await w.stop('SIGTERM', 2000);
    }
  });

  it('--tyrant-initgroups gives the user its groups from /etc/group', async () => {
    const { plan } = await tyrantSetup(true);
    await config('groups.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\n`, user);
    const p = await plan((await specsOf(join(dir, 'vassals'), false)).get('groups.ini')!);
    assert.equal(p.credentials?.initGroups, user.name);
    const lines: string[] = [];
    const w = Worker.spawn(p.worker, (l) => lines.push(l));
    try {
      await waitFor(() => lines.includes('ready'), { what: 'the worker to report' });
      const ids = await programIds(w);
      assert.deepEqual(ids.uid, [user.uid, user.uid, user.uid, user.uid]);
      assert.deepEqual(ids.groups.sort(), [user.gid, extra.gid].sort());
      assert.equal(ids.noNewPrivs, 1);
    } finally {
      await w.stop('SIGTERM', 2000);
    }
  });

  it('refuses a root-owned config, and a symlink to one unless nofollow makes the link owner count', async () => {
    const { plan } = await tyrantSetup(false);
    const rootConfig = await config('root-owned.ini', `[vassal]\ncommand = ${idsFixture}\n`, undefined);
    const link = join(dir, 'vassals', 'link.ini');
    await symlink(rootConfig, link);
    await lchown(link, user.uid, user.gid);

    const followed = await specsOf(join(dir, 'vassals'), false);
    await assert.rejects(plan(followed.get('root-owned.ini')!), { code: 'EMP_ERR_PERMISSION', message: /tyrant mode: refusing to run a vassal as uid 0 \(root\): its config .*root-owned\.ini is owned by uid 0 gid 0/ });
    await assert.rejects(plan(followed.get('link.ini')!), { code: 'EMP_ERR_PERMISSION', message: /refusing to run a vassal as uid 0/ });

    const linkOwned = await specsOf(join(dir, 'vassals'), true);
    const p = await plan({ ...linkOwned.get('link.ini')!, config: { ...linkOwned.get('link.ini')!.config } });
    assert.equal(p.worker.uid, user.uid, 'with --tyrant-nofollow the link owner is who it runs as, never root');
  });

  it('refuses uid/gid keys, an owner-less source and gid 0, naming the key or the source', async () => {
    const { plan } = await tyrantSetup(false);
    const path = await config('sets-uid.ini', `[vassal]\ncommand = ${idsFixture}\n\nuid = 0\n`, user);
    const spec = (await specsOf(join(dir, 'vassals'), false)).get('sets-uid.ini')!;
    await assert.rejects(plan(spec), (err: Error & { code?: string; key?: string; line?: number; file?: string }) => {
      assert.equal(err.code, 'EMP_ERR_PERMISSION');
      assert.equal(err.key, 'uid');
      assert.equal(err.line, 4);
      assert.equal(err.file, path);
      assert.match(err.message, /^uid: a vassal cannot choose its user in tyrant mode/);
      return true;
    });
    const settings = { initGroups: false };
    const where = { origin: 'row 7', lineOf: () => undefined };
    const base = { name: 'r', source: 'pg://db', config: { text: '', format: 'ini' as const }, revision: '1' };
    await assert.rejects(tyrantIdentity(base, {}, settings, where), { message: 'tyrant mode: pg://db gave no owner (uid and gid) for this vassal, so it has no user to run as' });
    await assert.rejects(tyrantIdentity({ ...base, uid: user.uid, gid: 0 }, {}, settings, where), { message: /refusing to run a vassal as gid 0/ });
    await assert.rejects(tyrantIdentity({ ...base, uid: 4000000, gid: 4000000 }, {}, { initGroups: true }, where), { message: '--tyrant-initgroups: uid 4000000 has no entry in /etc/passwd, so its groups are unknown' });
    await assert.rejects(tyrantIdentity({ ...base, uid: user.uid, gid: user.gid }, { gid: 'root' }, settings, where), { key: 'gid' });
  });

  it('refuses logto = /etc/passwd, at plan time and when opening, and leaves it untouched', async () => {
    const { plan } = await tyrantSetup(false);
    const before = { hash: await sha('/etc/passwd'), mtime: (await stat('/etc/passwd')).mtimeMs };
    await config('passwd.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\nlogto = /etc/passwd\n`, user);
    await assert.rejects(plan((await specsOf(join(dir, 'vassals'), false)).get('passwd.ini')!), {
      code: 'EMP_ERR_PERMISSION',
      key: 'logto',
      message: `logto: uid ${user.uid} gid ${user.gid} may not append to '/etc/passwd' (no write permission on /etc/passwd)`,
    });
    const who = { uid: user.uid, gid: user.gid, groups: [user.gid] };
    await assert.rejects(openAppendAsUser('/etc/passwd', who, { cwd: '/', key: 'logto' }), { code: 'EMP_ERR_PERMISSION', message: /^logto: uid \d+ gid \d+ cannot open '\/etc\/passwd' for appending: .*Permission denied$/ });
    // A symlink the user plants in its own directory changes nothing: the open runs as the user.
    await symlink('/etc/passwd', join(dir, 'home', 'trap.log'));
    await assert.rejects(openAppendAsUser(join(dir, 'home', 'trap.log'), who, { cwd: '/', key: 'logto' }), { message: /Permission denied/ });
    assert.deepEqual({ hash: await sha('/etc/passwd'), mtime: (await stat('/etc/passwd')).mtimeMs }, before);
  });

  it("a user's process that holds an O_PATH descriptor of /etc/passwd cannot make the emperor write to it", { skip: existsSync('/usr/bin/python3') ? false : 'needs /usr/bin/python3' }, async () => {
    const who = { uid: user.uid, gid: user.gid, groups: [user.gid] };
    const helper = execHelperPath();
    assert.ok(helper, 'the exec helper is built');
    // What a user could make the opening shell do by ptrace: hold a descriptor that needs no permission.
    const script = "import os,sys; fd=os.open('/etc/passwd', os.O_PATH); os.dup2(fd, 3); print('open', flush=True); sys.stdin.readline()";
    const child = spawn(helper, execHelperArgs(helperCredentials({ ...who }), '/usr/bin/python3', ['-c', script]), { stdio: ['pipe', 'pipe', 'inherit'] });
    const before = await sha('/etc/passwd');
    try {
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('open')) resolve(); }));
      // The kernel would let root reopen it for writing: the check on the held inode is what stops it.
      await closeAsync(await openAsync(`/proc/${child.pid}/fd/3`, constants.O_WRONLY | constants.O_APPEND));
      assert.equal(await takeOver(child, 3, who), 'the file is not writable by the user');
    } finally {
      child.stdin.end();
      await new Promise((r) => child.once('close', r));
    }
    assert.equal(await sha('/etc/passwd'), before);
  });

  it("opens the user's own logto as the user: the file is created as the user's and the emperor writes through it", async () => {
    const { iso, plan } = await tyrantSetup(false);
    await config('logs.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\nlogto = app.log\n`, user);
    const p = await plan((await specsOf(join(dir, 'vassals'), false)).get('logs.ini')!);
    const target = await iso.forVassal('logs.ini').logTarget(p);
    assert.equal(typeof target, 'number');
    const fd = target as number;
    await writeAsync(fd, 'hello\n');
    await closeAsync(fd);
    const file = join(dir, 'home', 'app.log');
    assert.equal(await readFile(file, 'utf8'), 'hello\n');
    const st = await stat(file);
    assert.deepEqual([st.uid, st.gid], [user.uid, user.gid]);
    // A file of another user in a shared directory is out of reach.
    await writeFile(join(dir, 'other.log'), '');
    await chown(join(dir, 'other.log'), other.uid, other.gid);
    await chmod(join(dir, 'other.log'), 0o644);
    await assert.rejects(openAppendAsUser(join(dir, 'other.log'), p.credentials!, { cwd: '/', key: 'logto' }), { message: /Permission denied/ });
    assert.equal(await readFile(join(dir, 'other.log'), 'utf8'), '');
    // A FIFO without a reader would block the opening forever: it gives up, and kills its helper.
    await run('mkfifo', [join(dir, 'home', 'pipe.log')]);
    await chown(join(dir, 'home', 'pipe.log'), user.uid, user.gid);
    await assert.rejects(openAppendAsUser(join(dir, 'home', 'pipe.log'), p.credentials!, { cwd: '/', key: 'logto', timeoutMs: 300 }), { message: /no answer within 300 ms/ });
  });

  it("file: and unix: probes and chdir are judged with the user's rights", async () => {
    const who = { uid: user.uid, gid: user.gid, groups: [user.gid] };
    const secretDir = join(dir, 'secret');
    await mkdir(secretDir, { mode: 0o700 });
    await writeFile(join(secretDir, 'flag'), 'x');
    await symlink(join(secretDir, 'flag'), join(dir, 'home', 'flag-link'));
    assert.deepEqual(await mayAccess(join(secretDir, 'flag'), who, 0), { ok: false, reason: `no search permission on ${secretDir}` });

    const { iso, plan } = await tyrantSetup(false);
    await config('probe.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\nready = file:flag-link\n`, user);
    const p = await plan((await specsOf(join(dir, 'vassals'), false)).get('probe.ini')!);
    const may = iso.forVassal('probe.ini').probeAccess(p)!;
    assert.equal(existsSync(join(secretDir, 'flag')), true);
    assert.equal(await may('file', join(secretDir, 'flag')), false, 'root sees it, the user could not');
    assert.equal(await may('file', 'flag-link'), false, 'not through a symlink in its own directory either');
    assert.equal(await may('file', join(dir, 'vassals')), true);

    const rootSock = join(secretDir, 'root.sock');
    const userSock = join(dir, 'home', 'user.sock');
    const servers = await Promise.all([rootSock, userSock].map((path) => new Promise<Server>((resolve) => { const srv = createServer(); srv.listen(path, () => resolve(srv)); })));
    try {
      await chown(userSock, user.uid, user.gid);
      assert.equal(await may('unix', rootSock), false);
      assert.equal(await may('unix', 'user.sock'), true);
    } finally {
      await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
    }

    await config('chdir.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${secretDir}\n`, user);
    await assert.rejects(plan((await specsOf(join(dir, 'vassals'), false)).get('chdir.ini')!), { code: 'EMP_ERR_PERMISSION', key: 'chdir', message: new RegExp(`^chdir: uid ${user.uid} gid ${user.gid} cannot enter '${secretDir}' \\(no search permission on ${secretDir}\\)$`) });
  });

  it('keeps cgroups under the cgroup root and eventfd files inside the own cgroup', { skip: noCgroups }, async () => {
    const { settings, cleanup } = await testSettings({ confine: true });
    try {
      const { plan } = await tyrantSetup(false, settings.root);
      await config('cg-escape.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\ncgroup = /sys/fs/cgroup/memory/system\n`, user);
      await config('cg-ok.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\ncgroup = app\nalarm = mem log:high\nalarm-eventfd = mem %(cgroup)/cgroup.event_control %(cgroup)/memory.usage_in_bytes 1000000\nalarm-memory = mem 10M\n`, user);
      await config('cg-peek.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\ncgroup = app2\nalarm = mem log:high\nalarm-eventfd = mem /sys/fs/cgroup/memory/cgroup.event_control /sys/fs/cgroup/memory/memory.usage_in_bytes 1000000\n`, user);
      await config('cg-dotdot.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\ncgroup = app3\nalarm = mem log:high\nalarm-eventfd = mem %(cgroup)/../cgroup.event_control %(cgroup)/memory.usage_in_bytes 1\n`, user);
      const specs = await specsOf(join(dir, 'vassals'), false);
      await assert.rejects(plan(specs.get('cg-escape.ini')!), { code: 'EMP_ERR_PERMISSION', key: 'cgroup', line: 4, message: new RegExp(`^cgroup: tyrant mode keeps every vassal's cgroup under the cgroup root '${settings.root}'`) });
      await assert.rejects(plan(specs.get('cg-peek.ini')!), { code: 'EMP_ERR_PERMISSION', key: 'alarm-eventfd', line: 6, message: /^alarm-eventfd: tyrant mode keeps a vassal's eventfd files inside its own cgroup: control file '\/sys\/fs\/cgroup\/memory\/cgroup\.event_control' is not / });
      await assert.rejects(plan(specs.get('cg-dotdot.ini')!), { code: 'EMP_ERR_PERMISSION', key: 'alarm-eventfd' });
      const ok = await plan(specs.get('cg-ok.ini')!);
      assert.equal(ok.cgroup?.path, `/sys/fs/cgroup/memory/${settings.root}/app`);
      assert.deepEqual(ok.worker.cgroupProcs, ok.cgroup!.dirs.map((d) => `${d.path}/cgroup.procs`));
    } finally {
      await cleanup();
    }
  });

  it('cmd: alarm actions run as the user: a write to a root-only file fails and changes nothing', async () => {
    const { plan } = await tyrantSetup(false);
    const rootOnly = join(dir, 'root-only.txt');
    await writeFile(rootOnly, 'untouched\n', { mode: 0o644 });
    const who = join(dir, 'home', 'who.txt');
    await config('alarmed.ini', `[vassal]\ncommand = ${idsFixture}\nchdir = ${join(dir, 'home')}\nalarm = note cmd:{ id -u; id -g; id -G; } > ${who}; echo pwned >> ${rootOnly}\n`, user);
    const p = await plan((await specsOf(join(dir, 'vassals'), false)).get('alarmed.ini')!);
    const log = new MemoryLogger();
    const alarms = await AlarmSubsystem.create(p.config, {
      vassal: 'alarmed.ini',
      log,
      signalWorkers: () => {},
      pids: () => [],
      ...(p.credentials ? { credentials: p.credentials } : {}),
      ...(p.worker.cwd ? { cwd: p.worker.cwd } : {}),
      env: { ...p.worker.env },
      resolveAction: () => Promise.resolve(undefined),
      resolveTrigger: () => Promise.resolve(undefined),
    });
    try {
      alarms.raise(['note'], 'disk almost full');
      const failed = await log.waitFor((r) => r.alarm === 'note' && r.level === 'error', 15_000);
      assert.match(failed.msg, /alarm "note" \(cmd\) failed/);
      assert.deepEqual((await readFile(who, 'utf8')).trim().split('\n'), [String(user.uid), String(user.gid), String(user.gid)]);
      assert.equal((await stat(who)).uid, user.uid);
      assert.equal(await readFile(rootOnly, 'utf8'), 'untouched\n');
    } finally {
      await alarms.close();
    }
  });

  it("stops instead of reloading when a config's owner changes; the base environment carries no secrets", () => {
    assert.equal(ownerChanged({ uid: 1, gid: 1 }, { uid: 1, gid: 1 }), false);
    assert.equal(ownerChanged({ uid: 1, gid: 1 }, { uid: 2, gid: 1 }), true);
    assert.equal(ownerChanged({ uid: 1, gid: 1 }, { uid: 1, gid: 2 }), true);
    const env = tyrantBaseEnv({ PATH: '/bin', LC_ALL: 'C', DATABASE_URL: 'postgres://u:pw@h/db', HOME: '/root' }, { name: 'u', uid: 5, gid: 5, home: '/home/u', shell: '/bin/sh' });
    assert.deepEqual(env, { PATH: '/bin', LC_ALL: 'C', HOME: '/home/u', USER: 'u', LOGNAME: 'u', SHELL: '/bin/sh' });
  });
});
