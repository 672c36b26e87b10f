/** An error meant for the person at the terminal: printed as it is, without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    /** 1: the command failed; 2: it was used wrongly. */
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(message, 2);
