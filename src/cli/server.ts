// Placeholder until the 'server' subcommand lands; replaced by its implementation.
export function run(_argv: string[]): Promise<number> {
  console.error('gearbox server: not available in this build');
  return Promise.resolve(2);
}
