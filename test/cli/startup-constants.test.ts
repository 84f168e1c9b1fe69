import * as copies from '../../cli/startup-constants';
import * as configSource from '../../lib/config-source';
import * as devIssuer from '../../local/dev-issuer';
import * as doors from '../../local/doors';
import * as stack from '../../local/stack';

/**
 * cli/startup-constants.ts copies values from modules too slow to load before a command runs; each copy must
 * stay equal to its original.
 */
describe('startup constants', () => {
  it('equal the values of the modules that own them', () => {
    expect(copies.DOOR_KINDS).toEqual(doors.DOOR_KINDS);
    expect(copies.MAX_DEV_TTL_SECONDS).toBe(devIssuer.MAX_DEV_TTL_SECONDS);
    expect(copies.STATE_FILE).toBe(stack.STATE_FILE);
    expect(copies.AUDIT_FILE).toBe(stack.AUDIT_FILE);
    expect(copies.CONFIG_FILE).toBe(configSource.CONFIG_FILE);
  });
});
