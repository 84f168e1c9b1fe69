import { hostName } from '../../cli/init-fields';

describe('init: the host name questions', () => {
  it.each([
    'dev-123456.okta.com',
    'login.example.com',
    'teleport.example.com:443',
    'idp.example.com:8443',
    'IdP.Example.com',
  ])('accepts %s', (host) => {
    expect(hostName(host)).toBeUndefined();
  });

  // Each has a host name's shape, but a URL parser reads an all-digit last label as an IPv4 address (or fails),
  // so the issuer built from it would not be the host the user typed.
  it.each([
    '08',
    'idp.08',
    '1.2.3',
    '0x10',
    'idp.example.com:70000',
    'https://idp.example.com',
    'idp example.com',
  ])('refuses %s', (host) => {
    expect(hostName(host)).toMatch(/a host name such as/);
  });
});
