/**
 * Which durable store the server uses, as parsed from gearmand's `-q …` flags or a `--store`
 * URL. `builtin` keeps jobs in memory only (gearmand's default; ours is `sqlite`).
 */
export type QueueConfig =
  | { readonly type: 'builtin' }
  | { readonly type: 'sqlite'; readonly file: string; readonly table?: string }
  | { readonly type: 'postgres'; readonly conninfo: string; readonly table?: string }
  | {
      readonly type: 'mysql';
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly password: string;
      readonly database: string;
      readonly table?: string;
    }
  | {
      readonly type: 'redis';
      readonly host: string;
      readonly port: number;
      readonly password?: string;
      readonly prefix?: string;
    };
