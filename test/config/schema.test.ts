import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../src/errors.js';
import { VASSAL_KEYS } from '../../src/config/schema.js';
import { load, refuses, vassal } from './helpers.js';

const INVALID = ErrorCodes.CONFIG_INVALID;
const at = (line: number, key: string, message: string | RegExp) => ({ code: INVALID, file: 'app.ini', line, key, message });

describe('defaults', () => {
  it('fills every optional field with its documented default', () => {
    const c = load('[vassal]\ncommand = node app.js\n');
    assert.deepEqual(c.command, ['node', 'app.js']);
    assert.equal(c.processes, 1);
    assert.deepEqual(c.env, {});
    assert.deepEqual(c.ready, { kind: 'alive', ms: 1000 });
    assert.equal(c.readyTimeout, 60);
    assert.equal(c.stopSignal, 'SIGTERM');
    assert.equal(c.stopTimeout, 10);
    assert.deepEqual(c.reload, { mode: 'restart' });
    assert.deepEqual([c.alarms, c.logAlarms, c.alarmSegfault, c.alarmBacklog, c.alarmCrash], [[], [], [], [], []]);
    assert.deepEqual([c.alarmFreq, c.alarmRate, c.alarmMsgSize, c.alarmCheap, c.alarmTimeout], [3, 0, 8192, false, 30]);
    assert.deepEqual([c.cgroupOpts, c.alarmEventfd, c.alarmMemory, c.alarmOom], [[], [], [], []]);
    assert.equal(c.onDemandMode, 0o660);
    for (const k of ['chdir', 'uid', 'gid', 'logto', 'cgroup', 'onDemand', 'idle', 'monitor', 'monitorOffset', 'port', 'warmup'] as const) {
      assert.equal(c[k], undefined, k);
    }
  });

  it('documents every key with a type and one line, defaults matching the validator', () => {
    const names = new Set<string>();
    for (const def of VASSAL_KEYS) {
      assert.ok(def.doc.length > 10 && !def.doc.includes('\n'), def.name);
      assert.ok(def.type.length > 0, def.name);
      for (const n of [def.name, ...def.aliases]) {
        assert.ok(!names.has(n), `${n} is defined once`);
        names.add(n);
      }
      if (def.default !== undefined && def.name !== 'ready') {
        // Writing the default explicitly changes nothing.
        assert.deepEqual(load(vassal(`${def.name} = ${def.default}`)), { ...load(vassal()), entries: load(vassal(`${def.name} = ${def.default}`)).entries }, def.name);
      }
    }
    assert.deepEqual(load(vassal('ready = alive:1000')).ready, load(vassal()).ready);
  });
});

describe('keys', () => {
  it('reads every scalar key', () => {
    const c = load(
      vassal(
        'processes = 4',
        'chdir = /srv/app',
        'uid = www-data',
        'gid = 33',
        'ready-timeout = 2.5',
        'stop-signal = SIGQUIT',
        'stop-timeout = 0',
        'reload = signal:HUP',
        'logto = /var/log/app.log',
        'alarm-freq = 0.5',
        'alarm-rate = 10',
        'alarm-msg-size = 1024',
        'alarm-cheap = yes',
        'alarm-timeout = 5',
        'cgroup = app',
        'on-demand = 127.0.0.1:8080',
        'on-demand-mode = 0600',
        'idle = 30',
        'monitor = 127.0.0.1:8160',
        'monitor-offset = 3',
        'port = 8080',
        'warmup = http://127.0.0.1:8080/health',
      ),
    );
    assert.deepEqual(
      [c.processes, c.chdir, c.uid, c.gid, c.readyTimeout, c.stopSignal, c.stopTimeout, c.reload, c.logto],
      [4, '/srv/app', 'www-data', '33', 2.5, 'SIGQUIT', 0, { mode: 'signal', signal: 'SIGHUP' }, '/var/log/app.log'],
    );
    assert.deepEqual([c.alarmFreq, c.alarmRate, c.alarmMsgSize, c.alarmCheap, c.alarmTimeout], [0.5, 10, 1024, true, 5]);
    assert.deepEqual([c.cgroup, c.onDemand, c.onDemandMode, c.idle, c.monitor, c.monitorOffset, c.port, c.warmup], [
      'app',
      '127.0.0.1:8080',
      0o600,
      30,
      '127.0.0.1:8160',
      3,
      8080,
      'http://127.0.0.1:8080/health',
    ]);
  });

  it('reads every ready probe', () => {
    const ready = (v: string) => load(vassal(`ready = ${v}`)).ready;
    assert.deepEqual(ready('tcp:127.0.0.1:3031'), { kind: 'tcp', host: '127.0.0.1', port: 3031 });
    assert.deepEqual(ready('tcp:[::1]:3031'), { kind: 'tcp', host: '::1', port: 3031 });
    assert.deepEqual(ready('unix:/run/app.sock'), { kind: 'unix', path: '/run/app.sock' });
    assert.deepEqual(ready('http://127.0.0.1:3031/health'), { kind: 'http', url: 'http://127.0.0.1:3031/health' });
    assert.deepEqual(ready('https://localhost/'), { kind: 'http', url: 'https://localhost/' });
    assert.deepEqual(ready('file:/tmp/app.ready'), { kind: 'file', path: '/tmp/app.ready' });
    assert.deepEqual(ready('alive'), { kind: 'alive', ms: 1000 });
    assert.deepEqual(ready('alive:250'), { kind: 'alive', ms: 250 });
  });

  it('reads signals by name, with or without SIG, in any case, or by number', () => {
    const sig = (v: string) => load(vassal(`stop-signal = ${v}`)).stopSignal;
    assert.equal(sig('TERM'), 'SIGTERM');
    assert.equal(sig('int'), 'SIGINT');
    assert.equal(sig('SIGUSR1'), 'SIGUSR1');
    assert.equal(sig('9'), 'SIGKILL');
  });

  it('reads booleans in every spelling, and a bare flag as true', () => {
    for (const v of ['true', 'yes', 'on', '1', 'TRUE']) assert.equal(load(vassal(`alarm-cheap = ${v}`)).alarmCheap, true, v);
    for (const v of ['false', 'no', 'off', '0']) assert.equal(load(vassal(`alarm-cheap = ${v}`)).alarmCheap, false, v);
    assert.equal(load(vassal('alarm-cheap')).alarmCheap, true);
    assert.equal(load('<vassal><command>a</command><alarm-cheap/></vassal>', 'xml').alarmCheap, true);
  });

  it('accepts on-demand unix sockets and octal modes in every spelling', () => {
    assert.equal(load(vassal('on-demand = /run/app.sock')).onDemand, '/run/app.sock');
    assert.equal(load(vassal('on-demand = @abstract')).onDemand, '@abstract');
    assert.equal(load(vassal('on-demand = :8080')).onDemand, ':8080');
    assert.equal(load(vassal('on-demand-mode = 660')).onDemandMode, 0o660);
    assert.equal(load(vassal('on-demand-mode = 0o640')).onDemandMode, 0o640);
  });

  it('builds env from KEY=VALUE lines, the last value of a KEY winning', () => {
    assert.deepEqual(load(vassal('env = A=1', 'env = B=', 'env = C=x=y', 'env = A=2')).env, { A: '2', B: '', C: 'x=y' });
  });

  it('reads cgroup-opt lines', () => {
    assert.deepEqual(load(vassal('cgroup = a', 'cgroup-opt = memory.limit_in_bytes=268435456', 'cgroup-opt = cpu.shares=512')).cgroupOpts, [
      { file: 'memory.limit_in_bytes', value: '268435456' },
      { file: 'cpu.shares', value: '512' },
    ]);
  });

  it('keeps the last value of a single-valued key written twice, as uWSGI does', () => {
    const c = load(vassal('processes = 2', 'processes = 3'));
    assert.equal(c.processes, 3);
  });

  it('keeps every entry, expanded, under its canonical key', () => {
    const c = load(vassal('alarm = a log:%n', 'alarm-log = a x'));
    assert.deepEqual(c.entries, [
      { key: 'command', value: 'node app.js', line: 2 },
      { key: 'alarm', value: 'a log:app', line: 3 },
      { key: 'log-alarm', value: 'a x', line: 4 },
    ]);
  });

  it('accepts keys registered by plugins and leaves them to them', () => {
    const c = load(vassal('alarm-metric = key=cpu,value=9', 'alarm-metric = key=mem,value=%n'), 'ini', { pluginKeys: ['alarm-metric'] });
    assert.deepEqual(c.entries.filter((e) => e.key === 'alarm-metric').map((e) => e.value), ['key=cpu,value=9', 'key=mem,value=app']);
  });
});

describe('command', () => {
  it('splits like a shell and expands placeholders inside each word only', () => {
    const c = load(vassal('set-ph = msg=it\'s "quoted"', 'env = X=1').replace('node app.js', `node "%dmy app/server.js" --msg %(msg) --x 'a b'`), 'ini', {
      path: '/srv/my vassals/app.ini',
    });
    assert.deepEqual(c.command, ['node', '/srv/my vassals/my app/server.js', '--msg', `it's "quoted"`, '--x', 'a b']);
  });

  it('is required', () => {
    refuses(() => load('[vassal]\nprocesses = 2\n'), { code: INVALID, file: 'app.ini', key: 'command', message: 'command: required: the program to run and its arguments (e.g. command = node server.js)' });
  });

  it('refuses an empty command and shell syntax, with the line', () => {
    refuses(() => load('[vassal]\ncommand =\n'), at(2, 'command', "command: expected a program and its arguments (e.g. node server.js), got ''"));
    refuses(() => load('[vassal]\ncommand = node a.js | tee x\n'), at(2, 'command', /^command: unquoted '\|' is shell syntax/));
    refuses(() => load('[vassal]\ncommand = node a.js   ; run it\n'), at(2, 'command', /^command: unquoted ';'/));
    refuses(() => load("[vassal]\ncommand = node 'a.js\n"), at(2, 'command', 'command: unterminated single quote'));
  });

  it('refuses a command given as a YAML or JSON list instead of running its last item', () => {
    refuses(() => load('vassal:\n  command: [node, a.js]\n', 'yaml', { name: 'app.yaml' }), {
      code: INVALID,
      file: 'app.yaml',
      line: 2,
      key: 'command',
      message: 'command: expected one value, got a list of 2 (write the command as one string)',
    });
    refuses(() => load('{"vassal": {"command": "a", "processes": [1, 2]}}', 'json', { name: 'app.json' }), { code: INVALID, key: 'processes', message: 'processes: expected one value, got a list of 2' });
  });
});

describe('refusals name the file, line, key, what was expected and what came', () => {
  const cases: [string, RegExp | string][] = [
    ['processes = two', "processes: expected an integer from 1 to 4096, got 'two'"],
    ['processes = 0', "processes: expected an integer from 1 to 4096, got '0'"],
    ['processes = 5000', "processes: expected an integer from 1 to 4096, got '5000'"],
    ['processes = 2.5', "processes: expected an integer from 1 to 4096, got '2.5'"],
    ['chdir =', "chdir: expected a directory, got ''"],
    ['env = A', /^env: expected KEY=VALUE with KEY a variable name .*, got 'A'$/],
    ['env = 1A=x', /^env: expected KEY=VALUE .*, got '1A=x'$/],
    ['env = =x', /^env: expected KEY=VALUE/],
    ['uid = bad name', "uid: expected a user name or number, got 'bad name'"],
    ['gid = ', "gid: expected a group name or number, got ''"],
    ['ready = tcp:localhost', /^ready: expected HOST:PORT, got 'tcp:localhost'$/],
    ['ready = tcp:h:99999', "ready: expected HOST:PORT, got 'tcp:h:99999' (the port must be from 1 to 65535)"],
    ['ready = tcp:::1:80', /write an IPv6 address in brackets/],
    ['ready = ftp://x', "ready: expected tcp:HOST:PORT, unix:PATH, http(s)://URL, file:PATH or alive[:MS], got 'ftp://x'"],
    ['ready = http://', /^ready: expected a URL \(http:\/\/… or https:\/\/…\), got 'http:\/\/'$/],
    ['ready = alive:soon', "ready: expected an integer from 0 to 86400000, got 'alive:soon'"],
    ['ready = unix:', /^ready: expected tcp:HOST:PORT/],
    ['ready-timeout = 0', /^ready-timeout: expected a positive number of seconds .*, got '0'$/],
    ['ready-timeout = 10s', /^ready-timeout: expected a positive number of seconds \(e\.g\. 10 or 0\.5, at most 31536000\), got '10s'$/],
    ['stop-signal = SIGNOPE', "stop-signal: expected a signal name (TERM, SIGTERM) or number (15), got 'SIGNOPE'"],
    ['stop-signal = 99', "stop-signal: expected a signal name (TERM, SIGTERM) or number (15), got '99' (no such signal number)"],
    ['stop-timeout = -1', /^stop-timeout: expected a number of seconds/],
    ['reload = graceful', "reload: expected restart, rolling or signal:SIG, got 'graceful'"],
    ['reload = signal:NOPE', /^reload: expected a signal name .*, got 'signal:NOPE'$/],
    ['logto =', "logto: expected a file path, got ''"],
    ['alarm-rate = -1', /^alarm-rate: expected an integer from 0 to 1000000/],
    ['alarm-msg-size = 0', /^alarm-msg-size: expected an integer from 1 to 1048576/],
    ['alarm-cheap = maybe', "alarm-cheap: expected true or false (also yes/no, on/off, 1/0), got 'maybe'"],
    ['alarm-cheap =', "alarm-cheap: expected true or false (also yes/no, on/off, 1/0), got ''"],
    ['cgroup = ../escape', "cgroup: expected a cgroup name or path without '..', got '../escape'"],
    ['cgroup-opt = ../x=1', /^cgroup-opt: expected FILE=VALUE with FILE a cgroup file name/],
    ['cgroup-opt = novalue', /^cgroup-opt: expected FILE=VALUE/],
    ['on-demand = nowhere', "on-demand: expected HOST:PORT or a unix socket path, got 'nowhere'"],
    ['on-demand-mode = 0999', "on-demand-mode: expected an octal file mode (e.g. 0660), got '0999'"],
    ['on-demand-mode = 1777', "on-demand-mode: expected an octal file mode (e.g. 0660), got '1777' (only permission bits (at most 0777))"],
    ['idle = never', /^idle: expected a positive number of seconds/],
    ['monitor = 8160', "monitor: expected HOST:PORT or :PORT, got '8160'"],
    ['monitor-offset = x', "monitor-offset: expected an integer from 0 to 65535, got 'x'"],
    ['port = 0', "port: expected an integer from 1 to 65535, got '0'"],
    ['warmup = /health', "warmup: expected a URL (http://… or https://…), got '/health'"],
    ['set-placeholder = novalue', /^set-placeholder: expected NAME=VALUE with NAME letters, digits and _ \. - .*, got 'novalue'$/],
  ];
  for (const [line, message] of cases) {
    it(line, () => {
      const key = line.split(/\s*=/)[0]!.trim();
      refuses(() => load(vassal('# padding', line)), at(4, key, message));
    });
  }

  it('suggests the closest key for an unknown one', () => {
    refuses(() => load(vassal('proceses = 2')), at(3, 'proceses', "unknown key 'proceses' (did you mean 'processes'?)"));
    refuses(() => load(vassal('stop_timeout = 2')), at(3, 'stop_timeout', "unknown key 'stop_timeout' (did you mean 'stop-timeout'?)"));
    refuses(() => load(vassal('porcesses = 2')), at(3, 'porcesses', "unknown key 'porcesses' (did you mean 'processes'?)"));
    refuses(() => load(vassal('alarm-lq2 = x')), at(3, 'alarm-lq2', "unknown key 'alarm-lq2' (did you mean 'alarm-lq'?)"));
    refuses(() => load(vassal('socket = :80')), at(3, 'socket', "unknown key 'socket'"));
    refuses(() => load(vassal('alarm-metrik = x'), 'ini', { pluginKeys: ['alarm-metric'] }), at(3, 'alarm-metrik', "unknown key 'alarm-metrik' (did you mean 'alarm-metric'?)"));
  });

  it('reports an unknown key before any placeholder problem in it', () => {
    refuses(() => load(vassal('chdri = %(nope)')), at(3, 'chdri', "unknown key 'chdri' (did you mean 'chdir'?)"));
  });

  it('points into the file a yaml value came from', () => {
    refuses(() => load('vassal:\n  command: a\n  processes: many\n', 'yaml', { name: 'app.yaml' }), {
      code: INVALID,
      file: 'app.yaml',
      line: 3,
      key: 'processes',
      message: "processes: expected an integer from 1 to 4096, got 'many'",
    });
  });

  it('cuts a huge bad value in the message', () => {
    const err = refuses(() => load(vassal(`processes = ${'9'.repeat(100_000)}`)), at(3, 'processes', /^processes: expected an integer from 1 to 4096, got '9{120}… \(100000 characters\)'$/));
    assert.ok(err.message.length < 300);
  });
});

describe('alarms', () => {
  it('reads alarm definitions and every trigger', () => {
    const c = load(
      vassal(
        'alarm = mail curl:smtp://127.0.0.1:2525;mail_to=ops@example.com',
        'alarm = mem log:',
        'alarm = kill signal:9',
        'log-alarm = mail,mem ^FATAL',
        'not-log-alarm = mail ^FATAL: expected',
        'alarm-log = mem (?i)out of memory',
        'alarm-segfault = mail',
        'segfault-alarm = mem,mail',
        'alarm-backlog = mem',
        'lq-alarm = mail',
        'alarm-crash = mail,kill',
        'cgroup = app',
        'alarm-eventfd = "mem:memory is high" /sys/fs/cgroup/memory/app/cgroup.event_control /sys/fs/cgroup/memory/app/memory.usage_in_bytes 100000000',
        'alarm-memory = mem 200M',
        'alarm-memory = mail 1073741824',
        'alarm-oom = kill',
        'alarm-oom = mail,mem',
      ),
    );
    assert.deepEqual(c.alarms, [
      { name: 'mail', action: 'curl', args: 'smtp://127.0.0.1:2525;mail_to=ops@example.com', line: 3 },
      { name: 'mem', action: 'log', args: '', line: 4 },
      { name: 'kill', action: 'signal', args: '9', line: 5 },
    ]);
    assert.deepEqual(c.logAlarms, [
      { alarms: ['mail', 'mem'], pattern: '^FATAL', negate: false, line: 6 },
      { alarms: ['mail'], pattern: '^FATAL: expected', negate: true, line: 7 },
      { alarms: ['mem'], pattern: '(?i)out of memory', negate: false, line: 8 },
    ]);
    assert.deepEqual(c.alarmSegfault, ['mail', 'mem']);
    assert.deepEqual(c.alarmBacklog, ['mem', 'mail']);
    assert.deepEqual(c.alarmCrash, ['mail', 'kill']);
    assert.equal(c.alarmEventfd.length, 1);
    assert.deepEqual(c.alarmMemory, ['mem 200M', 'mail 1073741824']);
    assert.deepEqual(c.alarmOom, ['kill', 'mail', 'mem']);
  });

  it('accepts every uWSGI alias of alarm-backlog', () => {
    for (const alias of ['alarm-backlog', 'backlog-alarm', 'lq-alarm', 'alarm-lq', 'alarm-listen-queue', 'listen-queue-alarm']) {
      assert.deepEqual(load(vassal('alarm = a log:', `${alias} = a`)).alarmBacklog, ['a'], alias);
    }
  });

  it('refuses bad alarm definitions', () => {
    refuses(() => load(vassal('alarm = lonely')), at(3, 'alarm', "alarm: expected NAME ACTION:ARGS (e.g. alarm = mem log:memory is high), got 'lonely'"));
    refuses(() => load(vassal('alarm = a noaction')), at(3, 'alarm', /^alarm: expected NAME ACTION:ARGS .*, got 'a noaction' \('noaction' is not ACTION:ARGS\)$/));
    refuses(() => load(vassal('alarm = a,b log:x')), at(3, 'alarm', /an alarm name is letters, digits and _ \. @ -, not 'a,b'/));
    refuses(() => load(vassal('alarm = a log:x', 'alarm = a cmd:y')), at(4, 'alarm', "alarm: alarm 'a' is already defined (line 3); alarm names are unique"));
  });

  it('refuses triggers that name an alarm that is not defined, naming it', () => {
    refuses(() => load(vassal('alarm = mail log:', 'log-alarm = mail,mial ^x')), at(4, 'log-alarm', "log-alarm: unknown alarm 'mial' (did you mean 'mail'?)"));
    refuses(() => load(vassal('alarm = mail log:', 'alarm = pager log:', 'not-log-alarm = zzz ^x')), at(5, 'not-log-alarm', "not-log-alarm: unknown alarm 'zzz' (defined: mail, pager)"));
    refuses(() => load(vassal('alarm-crash = mail')), at(3, 'alarm-crash', "alarm-crash: unknown alarm 'mail' (no alarm is defined (add alarm = NAME ACTION:ARGS))"));
    refuses(() => load(vassal('alarm = a log:', 'segfault-alarm = b')), at(4, 'alarm-segfault', /^alarm-segfault: unknown alarm 'b'/));
    refuses(() => load(vassal('alarm = a log:', 'alarm-oom = a,,b')), at(4, 'alarm-oom', /^alarm-oom: expected alarm names separated by commas/));
    refuses(() => load(vassal('alarm = a log:', 'alarm-eventfd = b:msg /c /s')), at(4, 'alarm-eventfd', /^alarm-eventfd: unknown alarm 'b'/));
    refuses(() => load(vassal('alarm = a log:', 'alarm-memory = b 1G')), at(4, 'alarm-memory', /^alarm-memory: unknown alarm 'b'/));
  });

  it('refuses malformed trigger lines', () => {
    refuses(() => load(vassal('alarm = a log:', 'log-alarm = a')), at(4, 'log-alarm', "log-alarm: expected NAMES REGEX (e.g. log-alarm = mail,mem ^FATAL), got 'a'"));
    refuses(() => load(vassal('alarm = a log:', 'log-alarm = a foo(')), at(4, 'log-alarm', "log-alarm: invalid regular expression 'foo(': missing ): foo("));
    refuses(() => load(vassal('alarm = a log:', 'log-alarm = a (x)\\1')), at(4, 'log-alarm', /invalid regular expression/));
    refuses(() => load(vassal('alarm = a log:', 'alarm-eventfd = a /only/control')), at(4, 'alarm-eventfd', /^alarm-eventfd: expected ALARM\[:MESSAGE\] CONTROL_FILE SUBJECT_FILE/));
    refuses(() => load(vassal('alarm = a log:', 'alarm-eventfd = "a /c /s')), at(4, 'alarm-eventfd', /unterminated double quote/));
    refuses(() => load(vassal('alarm = a log:', 'alarm-memory = a')), at(4, 'alarm-memory', "alarm-memory: expected ALARM BYTES (e.g. alarm-memory = mem 200M), got 'a'"));
    refuses(() => load(vassal('alarm = a log:', 'alarm-memory = a lots')), at(4, 'alarm-memory', "alarm-memory: expected a size in bytes, with an optional K, M or G suffix (e.g. 100M), got 'lots'"));
  });

  it('refuses cgroup settings and cgroup alarms without a cgroup', () => {
    refuses(() => load(vassal('cgroup-opt = memory.limit_in_bytes=1')), at(3, 'cgroup-opt', 'cgroup-opt: needs a cgroup: add cgroup = NAME'));
    refuses(() => load(vassal('alarm = a log:', 'alarm-memory = a 1G')), at(4, 'alarm-memory', 'alarm-memory: needs a cgroup: add cgroup = NAME'));
    refuses(() => load(vassal('alarm = a log:', 'alarm-oom = a')), at(4, 'alarm-oom', 'alarm-oom: needs a cgroup: add cgroup = NAME'));
  });

  it('keeps the order of log-alarm and not-log-alarm rules as written', () => {
    const c = load(vassal('alarm = a log:', 'not-log-alarm = a 1', 'log-alarm = a 2', 'not-alarm-log = a 3', 'alarm-log = a 4'));
    assert.deepEqual(c.logAlarms.map((r) => [r.pattern, r.negate]), [
      ['1', true],
      ['2', false],
      ['3', true],
      ['4', false],
    ]);
  });
});
