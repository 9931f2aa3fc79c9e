/**
 * The one option parser of every `gearbox` command. node:util's `parseArgs` splits argv into
 * tokens by getopt's rules (bundled short flags `-Rv`, attached values `-p4730`, `--flag value`
 * and `--flag=value`, `--` ends the options); this layer checks the tokens against a command's
 * option table, so that every command refuses a bad command line with the same messages, and
 * renders the table as the `--help` text, defaults included.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

/** One option of a command. */
export interface OptionSpec {
  /** The long name, without dashes; values are read back by it. */
  readonly name: string;
  /** The one-letter form, if any. */
  readonly short?: string;
  /** Only the short form exists (gearmand's `-v`): `--v` is an unknown option. */
  readonly shortOnly?: boolean;
  /** The option takes a value, shown in the help as this placeholder; a switch otherwise. */
  readonly value?: string;
  readonly help: string;
  /** Listed in the help as `(default …)`. */
  readonly default?: string;
  /**
   * What giving the option again does: `last` (the default, as getopt does) keeps the last
   * value; `list` keeps every value in order (shown as repeatable); `once` is an error.
   */
  readonly repeat?: 'last' | 'list' | 'once';
  /** The heading the help lists the option under (options of one section are adjacent). */
  readonly section?: string;
}

/** The options, each listed under `section` in the help. */
export function inSection<T extends OptionSpec>(section: string, specs: readonly T[]): T[] {
  return specs.map((spec) => ({ ...spec, section }));
}

/** An option as it appeared on the command line. */
export interface Occurrence {
  readonly spec: OptionSpec;
  /** The value; `''` for a switch. */
  readonly value: string;
  /** How it was written (`-p`, `--port`), for messages. */
  readonly shown: string;
}

/** A checked command line; `N` is the union of the command's option names. */
export class ParsedOptions<N extends string = string> {
  constructor(
    /** Every option given, in command-line order. */
    readonly occurrences: readonly Occurrence[],
    /** The arguments that are not options (and everything after `--`). */
    readonly positionals: readonly string[],
  ) {}

  /** Every value given for the option, in order. */
  values(name: N): string[] {
    return this.occurrences.filter((o) => o.spec.name === name).map((o) => o.value);
  }

  /** The option's value: the last one given, or undefined when it was not given. */
  value(name: N): string | undefined {
    return this.values(name).at(-1);
  }

  /** Whether the option (a switch, usually) was given. */
  has(name: N): boolean {
    return this.occurrences.some((o) => o.spec.name === name);
  }

  /** How the option was last written, for messages about its value (`--name` if not given). */
  shown(name: N): string {
    return this.occurrences.findLast((o) => o.spec.name === name)?.shown ?? `--${name}`;
  }
}

/** Whether a command takes arguments besides its options. */
export interface ParseOptionsSettings {
  /** Arguments that are not options are allowed (default false: they are an error). */
  readonly positionals?: boolean;
}

/**
 * Checks `argv` against `specs` (`command` names the subcommand in messages; `''` for the
 * `gearbox` binary itself). Throws a {@link UsageError} for an unknown option, a missing
 * value, a value given to a switch, a second `once` option, or an argument where none is taken.
 */
export function parseOptions<const S extends readonly OptionSpec[]>(
  command: string,
  specs: S,
  argv: readonly string[],
  settings: ParseOptionsSettings = {},
): ParsedOptions<S[number]['name']> {
  const program = command === '' ? 'gearbox' : `gearbox ${command}`;
  const byName = new Map(specs.map((s) => [s.name, s]));
  const options = Object.fromEntries(
    specs.map((s) => [
      s.name,
      {
        type: s.value === undefined ? 'boolean' : 'string',
        ...(s.short ? { short: s.short } : {}),
      },
    ]),
  ) as NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  // strict: false hands unknown options over as tokens, so that the messages are ours.
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const occurrences: Occurrence[] = [];
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (!settings.positionals) {
        throw new UsageError(
          'UNKNOWN_FLAG',
          `unexpected argument '${token.value}' (${program} takes only options)`,
        );
      }
      positionals.push(token.value);
      continue;
    }
    const shown = token.rawName;
    const long = shown.startsWith('--');
    const spec = byName.get(token.name);
    // An unknown letter comes back named after itself; a known one under its long name.
    if (!spec || (long ? spec.shortOnly : spec.short !== shown.slice(1)))
      throw new UsageError('UNKNOWN_FLAG', `unknown option ${shown}`);
    let value = '';
    if (spec.value !== undefined) {
      if (token.value === undefined)
        throw new UsageError('MISSING_VALUE', `${shown} needs a value (${spec.value})`);
      // getopt-style `-p=4730` means 4730, as gearmand's command lines may have it.
      value =
        !long && token.inlineValue && token.value.startsWith('=')
          ? token.value.slice(1)
          : token.value;
    } else if (token.value !== undefined) {
      throw new UsageError('BAD_VALUE', `${shown} takes no value`);
    }
    if (spec.repeat === 'once' && occurrences.some((o) => o.spec === spec))
      throw new UsageError('REPEATED', `${shown} given twice; ${program} takes only one`);
    occurrences.push({ spec, value, shown });
  }
  return new ParsedOptions(occurrences, positionals);
}

const NAME_COLUMN = 30;
const WIDTH = 100;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

function optionLines(spec: OptionSpec): string[] {
  const names = spec.shortOnly
    ? `-${spec.short ?? ''}`
    : `${spec.short ? `-${spec.short}, ` : '    '}--${spec.name}${spec.value ? ` ${spec.value}` : ''}`;
  let text = spec.help;
  if (spec.repeat === 'list' && spec.value !== undefined) text += ' (repeatable)';
  if (spec.default !== undefined) text += ` (default ${spec.default})`;
  const body = wrap(text, WIDTH - NAME_COLUMN - 2);
  const indent = ' '.repeat(NAME_COLUMN + 2);
  const first = `  ${names}`;
  if (first.length >= NAME_COLUMN + 1) return [first, ...body.map((l) => indent + l)];
  return [first.padEnd(NAME_COLUMN + 2) + (body[0] ?? ''), ...body.slice(1).map((l) => indent + l)];
}

/** What a command's `--help` says besides its options. */
export interface HelpText {
  /** The usage line(s), e.g. `usage: gearbox worker -f FUNCTION [options] [-- COMMAND]`. */
  readonly usage: string;
  /** A paragraph on what the command does. */
  readonly about: string;
  /** Paragraphs after the options. */
  readonly notes?: readonly string[];
}

/** The `--help` text of a command: usage, description, every option with its default, notes. */
export function formatHelp(text: HelpText, specs: readonly OptionSpec[]): string {
  const lines = [text.usage, '', ...wrap(text.about, WIDTH), '', 'options:'];
  let section: string | undefined;
  for (const spec of specs) {
    if (spec.section !== section) {
      section = spec.section;
      if (section !== undefined) lines.push('', `${section}:`);
    }
    lines.push(...optionLines(spec));
  }
  const once = specs.filter((s) => s.repeat === 'once').map((s) => `--${s.name}`);
  const notes = [
    ...(text.notes ?? []),
    'Given twice, an option keeps its last value; a repeatable one keeps every value' +
      (once.length > 0 ? `; ${once.join(', ')} may be given only once.` : '.'),
  ];
  for (const note of notes) lines.push('', ...wrap(note, WIDTH));
  return lines.join('\n');
}
