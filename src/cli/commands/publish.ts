/**
 * `emperor publish TARGET …`: sends a vassal config over AMQP or ZeroMQ, the way the amqp:// and
 * zmq:// monitors read it, so deploys need no other tool.
 *   amqp://…  --name app.ini --file app.ini     the config itself (routing key = name)
 *   amqp://…  --name app.ini --remove           remove (empty body)
 *   amqp://…  /etc/vassals/app.ini | https://…  a path or URL to the config
 *   zmq://…   touch app.ini [--file app.ini]    add or reload
 *   zmq://…   destroy app.ini                   remove
 */
import { readFile } from 'node:fs/promises';
import { EmperorError, ErrorCodes } from '../../errors.js';

export interface PublishOptions {
  name?: string;
  file?: string;
  body?: string;
  remove?: boolean;
  uid?: number;
  gid?: number;
  socket?: string;
  timeout: number;
}

const usage = (msg: string): EmperorError => new EmperorError(ErrorCodes.USAGE, `publish: ${msg}`);

export async function publish(target: string, words: string[], opts: PublishOptions): Promise<string> {
  const fileText = opts.file === undefined ? undefined : await readFile(opts.file, 'utf8').catch((err: Error) => {
    throw usage(`--file ${opts.file}: ${err.message}`);
  });
  if (/^amqps?:\/\//i.test(target)) return publishToAmqp(target, words, opts, fileText);
  if (/^zmq:\/\//i.test(target) || /^(tcp|ipc):\/\//i.test(target)) return publishToZmq(target, words, opts, fileText);
  throw usage(`the target must be amqp://… or zmq://…, got '${target}'`);
}

async function publishToAmqp(target: string, words: string[], opts: PublishOptions, fileText: string | undefined): Promise<string> {
  const { publishAmqp } = await import('../../../plugins/amqp/publish.js');
  const extra = { uid: opts.uid, gid: opts.gid, socket: opts.socket, timeoutMs: opts.timeout };
  if (opts.name !== undefined) {
    if (words.length > 0) throw usage(`with --name, give the config with --file or --body, not as '${words.join(' ')}'`);
    const body = opts.remove ? '' : fileText ?? opts.body;
    if (body === undefined) throw usage('--name needs --file, --body or --remove');
    await publishAmqp(target, { name: opts.name, body }, extra);
    return opts.remove ? `asked every emperor on the exchange to remove ${opts.name}` : `published ${opts.name} (${Buffer.byteLength(body)} bytes)`;
  }
  const pointer = words[0] ?? opts.body;
  if (pointer === undefined || words.length > 1) throw usage('give --name NAME with --file/--body/--remove, or one absolute path or http(s) URL of a config');
  await publishAmqp(target, { body: pointer }, extra);
  return `published ${pointer}`;
}

async function publishToZmq(target: string, words: string[], opts: PublishOptions, fileText: string | undefined): Promise<string> {
  const { publishZmq } = await import('../../../plugins/zmq/publish.js');
  const [command, name, ...rest] = words;
  if (command === undefined || name === undefined || rest.length > 0) throw usage('zmq takes COMMAND NAME, e.g. `touch app.ini --file app.ini` or `destroy app.ini`');
  const parts: string[] = [command, name];
  const tail = [opts.uid === undefined ? '' : String(opts.uid), opts.gid === undefined ? '' : String(opts.gid), opts.socket ?? ''];
  const config = fileText ?? opts.body ?? '';
  if (config !== '' || tail.some((t) => t !== '')) parts.push(config);
  while (tail.length > 0 && tail[tail.length - 1] === '') tail.pop();
  parts.push(...tail);
  await publishZmq(target, parts, { timeoutMs: opts.timeout });
  return `sent ${command} ${name}${config ? ` (${Buffer.byteLength(config)} bytes of config)` : ''}`;
}
