/** Option value parsers shared by the emperor and its subcommands: a bad value is a usage error naming the option. */
import { InvalidArgumentError } from 'commander';

export function int(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} expects an integer from ${min} to ${max}, got '${value}'`);
    }
    return n;
  };
}

export function positive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} expects a positive number, got '${value}'`);
    return n;
  };
}
