// Placeholder until the 'scheduler' subcommand lands; replaced by its implementation.
export function run(_argv: string[]): Promise<number> {
  console.error('gearbox scheduler: not available in this build');
  return Promise.resolve(2);
}
