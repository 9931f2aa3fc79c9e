// Placeholder until the 'worker' subcommand lands; replaced by its implementation.
export function run(_argv: string[]): Promise<number> {
  console.error('gearbox worker: not available in this build');
  return Promise.resolve(2);
}
