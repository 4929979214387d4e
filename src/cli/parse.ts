/** Small argument parsers shared by commands; a bad value is a user error, not a crash. */
import { InvalidArgumentError } from 'commander';

export function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

export function intListArg(value: string): number[] {
  return value.split(',').filter((s) => s.trim() !== '').map((s) => intArg(s.trim()));
}
