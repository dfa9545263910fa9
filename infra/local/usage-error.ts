/**
 * A command line pgwarden cannot run (unknown command, bad flag): the CLI prints it with the usage
 * and exits 2. Its own module, so that the CLI and what it dispatches to (bench, soak) share it
 * without importing each other.
 */
export class UsageError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'UsageError';
  }
}
