/**
 * The one table from monitor schemes, alarm action prefixes and trigger options to the plugin that
 * provides them. Plugins are imported on first use, so a user without PostgreSQL never loads `pg`.
 * User plugins (`--plugin`) are registered here too and take precedence.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EmperorError, ErrorCodes } from './errors.js';
import type { AlarmActionFactory, PluginDescriptor, TriggerFactory } from './plugin.js';
import type { MonitorFactory } from './monitors/types.js';

/** Built-in plugins under plugins/<folder>/index.ts. */
const BUILTIN = {
  monitors: { pg: 'pg', postgres: 'pg', postgresql: 'pg', mongodb: 'mongodb', 'mongodb+srv': 'mongodb', amqp: 'amqp', amqps: 'amqp', zmq: 'zmq' },
  actions: { curl: 'curl', xmpp: 'xmpp' },
  triggers: { 'alarm-eventfd': 'cgroup-eventfd', 'alarm-memory': 'cgroup-eventfd', 'alarm-oom': 'cgroup-eventfd' },
} as const satisfies Record<'monitors' | 'actions' | 'triggers', Record<string, string>>;

export class PluginTable {
  private readonly loaded = new Map<string, Promise<PluginDescriptor>>();
  private readonly user: PluginDescriptor[] = [];

  /** Loads a user plugin module (a path or a package name) whose default export is a descriptor. */
  async addUserPlugin(spec: string): Promise<PluginDescriptor> {
    const target = spec.startsWith('.') || isAbsolute(spec) ? pathToFileURL(resolve(spec)).href : spec;
    let mod: { default?: unknown };
    try {
      mod = (await import(target)) as { default?: unknown };
    } catch (err) {
      throw new EmperorError(ErrorCodes.PLUGIN, `--plugin ${spec}: cannot load it (${(err as Error).message})`, { key: 'plugin', cause: err });
    }
    const d = checkDescriptor(mod.default, `--plugin ${spec}`);
    this.user.push(d);
    return d;
  }

  /** Schemes known without loading anything, for messages. */
  knownSchemes(): string[] {
    return ['dir', 'glob', ...Object.keys(BUILTIN.monitors), ...this.user.flatMap((u) => Object.keys(u.monitors ?? {}))];
  }

  /** Config keys that user plugins' triggers read (the config loader accepts them). */
  userTriggerKeys(): string[] {
    return this.user.flatMap((u) => Object.keys(u.triggers ?? {}));
  }

  async monitor(scheme: string): Promise<MonitorFactory | undefined> {
    return this.find('monitors', scheme) as Promise<MonitorFactory | undefined>;
  }

  async action(prefix: string): Promise<AlarmActionFactory | undefined> {
    return this.find('actions', prefix) as Promise<AlarmActionFactory | undefined>;
  }

  async trigger(option: string): Promise<TriggerFactory | undefined> {
    return this.find('triggers', option) as Promise<TriggerFactory | undefined>;
  }

  private async find(kind: 'monitors' | 'actions' | 'triggers', key: string): Promise<unknown> {
    for (const u of this.user) {
      const f = u[kind]?.[key];
      if (f) return f;
    }
    const folder = (BUILTIN[kind] as Record<string, string>)[key];
    if (folder === undefined) return undefined;
    const d = await this.load(folder);
    const f = d[kind]?.[key];
    if (!f) throw new EmperorError(ErrorCodes.PLUGIN, `plugin '${folder}' does not provide ${kind.slice(0, -1)} '${key}'`);
    return f;
  }

  private load(folder: string): Promise<PluginDescriptor> {
    let p = this.loaded.get(folder);
    if (!p) {
      p = import(`../plugins/${folder}/index.js`).then(
        (m: { default?: unknown }) => checkDescriptor(m.default, `plugin '${folder}'`),
        (err: Error) => {
          throw new EmperorError(ErrorCodes.PLUGIN, `plugin '${folder}' cannot be loaded: ${err.message}`, { cause: err });
        },
      );
      this.loaded.set(folder, p);
    }
    return p;
  }
}

function checkDescriptor(d: unknown, what: string): PluginDescriptor {
  if (typeof d !== 'object' || d === null || typeof (d as { name?: unknown }).name !== 'string') {
    throw new EmperorError(ErrorCodes.PLUGIN, `${what}: the default export must be a plugin descriptor { name, monitors?, actions?, triggers? }`);
  }
  return d as PluginDescriptor;
}
