/**
 * One worker process: spawned through the exec helper (its own process group, cgroup joined and
 * credentials dropped before the program runs, killed if the emperor dies), its output as lines,
 * its end as an ExitResult.
 */
import type { Duplex, Readable } from 'node:stream';
import { execHelperArgs, execHelperPath, type ExecHelperOptions } from '../native/exec-helper.js';
import { launch, type LaunchEnd, type Launched } from './launch.js';
import { LineSplitter, type LineBlock } from './line-splitter.js';
import { type ExitResult } from './exit.js';

export interface WorkerSpec {
  argv: readonly string[];
  cwd?: string;
  env: Readonly<Record<string, string>>;
  uid?: number;
  gid?: number;
  /** initgroups() for this user instead of dropping supplementary groups. */
  initGroups?: string;
  noNewPrivs?: boolean;
  /** cgroup.procs files the worker joins before its program runs. */
  cgroupProcs?: readonly string[];
  /** A PID namespace of its own (root only): nothing it forks outlives it. */
  pidns?: boolean;
  /** Extra descriptors passed as fd 3, 4, … (on-demand sockets). */
  extraFds?: readonly number[];
  /**
   * The first N extraFds are listening sockets handed over as systemd does (sd_listen_fds): the
   * program gets LISTEN_FDS=N and LISTEN_PID=its own pid. Needs the exec helper, which alone can
   * set LISTEN_PID in the final process.
   */
  listenFds?: number;
  /** A descriptor for fd 0 instead of /dev/null (uWSGI looks for an inherited socket there). */
  stdin?: number;
  /**
   * Socketpairs to talk with the worker (the uWSGI emperor protocol), after extraFds: channel i
   * is fd 3 + extraFds.length + i in the worker and `Worker.channels[i]` here.
   */
  channels?: number;
  /** Bytes per line before it is cut. */
  maxLine?: number;
}

/** Gets the output line by line, or (cheaper) the lines of each read together. */
export type LineSink = ((line: string, worker: Worker) => void) | { block(lines: LineBlock, worker: Worker): void };

export class Worker {
  readonly pid: number;
  readonly startedAt = Date.now();
  readonly exited: Promise<ExitResult>;
  /** The emperor's ends of the spec's channels (see WorkerSpec.channels). */
  readonly channels: readonly Duplex[];
  private stopRequested = false;
  private killed = false;
  private done = false;
  private killTimer: NodeJS.Timeout | undefined;
  /** The pipes carrying its output (one with the exec helper). */
  private readonly outputs: readonly Readable[];
  private outputPaused = false;

  private constructor(pid: number, outputs: readonly Readable[], exited: Promise<ExitResult>, channels: readonly Duplex[] = []) {
    this.pid = pid;
    this.outputs = outputs;
    this.exited = exited;
    this.channels = channels;
    // A worker that dies mid-write is seen through `exited`, not as an error on its channel.
    for (const c of channels) c.on('error', () => {});
  }

  /**
   * Spawns a worker. Never throws for a program that cannot run: the result says so (the exec
   * helper reports exec failures as exit code 127 with the reason on the output).
   */
  static spawn(spec: WorkerSpec, onLine: LineSink): Worker {
    const helper = execHelperPath();
    const [program, ...args] = spec.argv;
    if (program === undefined) throw new Error('empty argv');
    const helperOpts: ExecHelperOptions = {
      mergeStderr: true,
      cgroupProcs: spec.cgroupProcs,
      pidns: spec.pidns,
      uid: spec.uid,
      gid: spec.gid,
      initGroups: spec.initGroups,
      noNewPrivs: spec.noNewPrivs,
      listenFds: spec.listenFds,
    };
    if (!helper && (spec.listenFds ?? 0) > 0) {
      return Worker.failed('cannot hand over a listening socket: the exec helper is not built (`node src/native/build.mjs`), and only it can set LISTEN_PID for the program');
    }
    const extraFds = spec.extraFds ?? [];
    const startedAt = Date.now();
    let proc: Launched;
    try {
      proc = launch({
        file: helper ?? program,
        args: helper ? execHelperArgs(helperOpts, program, args) : args,
        cwd: spec.cwd,
        env: spec.env,
        stdin: spec.stdin,
        stderr: helper ? 'null' : 'pipe',
        extraFds,
        channels: spec.channels ?? 0,
        // Without the helper, Node sets the credentials itself (no pdeathsig, no cgroup join).
        ...(helper ? {} : { uid: spec.uid, gid: spec.gid }),
      });
    } catch (err) {
      return Worker.failed((err as Error).message);
    }

    let worker: Worker;
    const exited = new Promise<ExitResult>((resolve) => {
      let openOutputs = proc.outputs.length;
      let end: LaunchEnd | undefined;
      const finish = (): void => {
        if (!end || openOutputs > 0) return;
        worker.onExit();
        const forced = worker.killed;
        resolve({
          pid: worker.pid,
          code: end.code,
          signal: end.signal,
          reason: end.error ? 'spawn-failed' : worker.killed ? 'killed' : worker.stopRequested ? 'stopped' : 'exited',
          forced,
          durationMs: Date.now() - startedAt,
          ...(end.error ? { error: end.error.message } : {}),
        });
      };
      const splitter = new LineSplitter(typeof onLine === 'function' ? (line) => onLine(line, worker) : { block: (lines) => onLine.block(lines, worker) }, spec.maxLine);
      for (const stream of proc.outputs) {
        stream.on('data', (chunk: Buffer) => splitter.push(chunk));
        // 'close' follows the end of the pipe: every line is delivered before the exit is.
        stream.once('close', () => {
          openOutputs--;
          if (openOutputs === 0) splitter.flush();
          finish();
        });
      }
      proc.onEnd((e) => {
        end = e;
        if (e.error) {
          for (const s of proc.outputs) s.destroy();
        } else {
          // Grandchildren may hold the pipe open after the worker itself is gone: they die with
          // their group (see onExit), and then the pipe closes.
          worker.killGroupRemnants();
        }
        finish();
      });
    });
    worker = new Worker(proc.pid, proc.outputs, exited, proc.channels);
    return worker;
  }

  /** A worker that never ran: its result says why. */
  private static failed(error: string): Worker {
    const failed: ExitResult = { pid: -1, code: null, signal: null, reason: 'spawn-failed', forced: false, durationMs: 0, error };
    const w = new Worker(-1, [], Promise.resolve(failed));
    w.done = true;
    return w;
  }

  /** Stops reading the worker's output (its writes block once the pipe is full): backpressure. */
  /** True when this call paused it (it was reading). */
  pauseOutput(): boolean {
    if (this.outputPaused) return false;
    this.outputPaused = true;
    for (const s of this.outputs) s.pause();
    return true;
  }

  resumeOutput(): void {
    if (!this.outputPaused) return;
    this.outputPaused = false;
    for (const s of this.outputs) s.resume();
  }

  get alive(): boolean {
    return !this.done;
  }

  /** Sends a signal to the worker's whole process group. */
  signal(sig: NodeJS.Signals | number): boolean {
    if (this.done || this.pid <= 0) return false;
    try {
      process.kill(-this.pid, sig);
      return true;
    } catch {
      try {
        process.kill(this.pid, sig);
        return true;
      } catch {
        return false;
      }
    }
  }

  /**
   * Asks the worker to stop: `request` is a signal for its process group, or a function that asks
   * it another way (a protocol message); SIGKILL after `timeoutMs`. `onKill` runs with the SIGKILL
   * (the vassal kills its cgroup there, for processes that left the group).
   */
  stop(request: NodeJS.Signals | (() => void), timeoutMs: number, onKill?: () => void): Promise<ExitResult> {
    if (!this.done && !this.stopRequested) {
      this.stopRequested = true;
      if (typeof request === 'function') request();
      else this.signal(request);
      this.killTimer = setTimeout(() => {
        this.killed = true;
        this.signal('SIGKILL');
        onKill?.();
      }, timeoutMs);
    }
    return this.exited;
  }

  /** Kills at once (emperor shutting down hard). */
  kill(): void {
    this.stopRequested = true;
    this.killed = true;
    this.signal('SIGKILL');
  }

  private onExit(): void {
    this.done = true;
    if (this.killTimer) clearTimeout(this.killTimer);
    for (const c of this.channels) c.destroy();
  }

  /** Processes the worker left behind in its group die with it: no orphans. */
  private killGroupRemnants(): void {
    if (this.pid <= 0) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // The group is already empty.
    }
  }
}
