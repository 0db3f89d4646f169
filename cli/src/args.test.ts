import { describe, expect, it } from 'vitest';
import { CliError, durationFlag, parseFlags, parseGoDuration, type FlagSpecs } from './args.ts';

const SPECS: FlagSpecs = {
  namespace: { type: 'string', short: 'n', help: '' },
  wait: { type: 'boolean', short: 'w', default: false, help: '' },
  name: { type: 'string', default: 'waypoint', help: '' },
};

describe('parseFlags', () => {
  it.each([
    [['-n', 'ns1', 'a', '--wait'], { namespace: 'ns1', wait: true, name: 'waypoint' }, ['a']],
    [['--namespace=ns2', '--name', ''], { namespace: 'ns2', wait: false, name: '' }, []],
    [['--wait=false', '-w'], { namespace: undefined, wait: true, name: 'waypoint' }, []],
    [['--wait=true'], { namespace: undefined, wait: true, name: 'waypoint' }, []],
    [['--wait=false'], { namespace: undefined, wait: false, name: 'waypoint' }, []],
  ])('%j', (argv, values, positionals) => {
    const p = parseFlags(argv, SPECS);
    expect(p.values).toEqual(values);
    expect(p.positionals).toEqual(positionals);
  });

  it.each([
    [['--bogus'], 'unknown flag: --bogus'],
    [['-x'], "unknown shorthand flag: 'x' in -x"],
    [['--namespace'], 'flag needs an argument: --namespace'],
  ])('%j → %s', (argv, message) => {
    expect(() => parseFlags(argv, SPECS)).toThrow(new CliError(message, 'USAGE'));
  });
});

describe('parseGoDuration', () => {
  it.each([
    ['90s', 90_000], ['1m30s', 90_000], ['1.5h', 5_400_000], ['300ms', 300], ['0', 0], ['2m', 120_000], ['-1s', -1000], ['1h2m3s4ms', 3_723_004],
  ])('%s = %d ms', (s, ms) => expect(parseGoDuration(s)).toBe(ms));

  it.each(['', '90', 's', '1x', '1s2'])('refuses %j like time.ParseDuration', (s) => {
    expect(() => parseGoDuration(s)).toThrow(`time: invalid duration "${s}"`);
  });

  it('names the flag like cobra', () => {
    expect(() => durationFlag('waypoint-timeout', 'soon')).toThrow('invalid argument "soon" for "--waypoint-timeout" flag: time: invalid duration "soon"');
  });
});
