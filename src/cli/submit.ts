// Placeholder until the 'submit' subcommand lands; replaced by its implementation.
export function run(_argv: string[]): Promise<number> {
  console.error('gearbox submit: not available in this build');
  return Promise.resolve(2);
}
