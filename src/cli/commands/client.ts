/** What every control subcommand shares: the --control option and one connection per run. */
import { Option, type Command } from 'commander';
import { ControlClient } from '../../ops/control-client.js';
import { defaultControlPath } from '../../ops/control-path.js';

export interface ControlOptions {
  control: string;
}

export function controlOption(): Option {
  return new Option('--control <path>', 'the emperor\'s control socket').default(defaultControlPath());
}

/** A subcommand that talks to the emperor, with --control. */
export function controlCommand(program: Command, nameAndArgs: string, description: string): Command {
  // Usage errors reach main() (exit 2) rather than exiting from inside commander.
  return program.command(nameAndArgs).description(description).addOption(controlOption()).showHelpAfterError().exitOverride();
}

/** Connects, runs `fn`, and always closes the connection. */
export async function withClient<T>(opts: ControlOptions, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  const client = await ControlClient.connect(opts.control);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** Writes and resolves once the text is handed to the OS (large stats documents, pipes). */
export function print(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}
