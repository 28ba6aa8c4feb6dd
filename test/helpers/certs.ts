/** Throwaway TLS material made with the real openssl CLI, for tests of every TLS path. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  caCert: string;
  serverKey: string;
  serverCert: string;
  /** A CA that did not sign the server certificate. */
  otherCaCert: string;
  clientKey: string;
  clientCert: string;
}

/** A CA, a server certificate for 127.0.0.1/::1/localhost, a client certificate and a second, unrelated CA. */
export function makeTestCerts(dir: string): TestCerts {
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ca = (name: string) => {
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`), '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  };
  ca('test-ca');
  ca('other-ca');
  const leaf = (name: string, ext: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`);
    writeFileSync(p(`${name}.ext`), ext);
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('test-ca.crt'), '-CAkey', p('test-ca.key'), '-CAcreateserial', '-out', p(`${name}.crt`), '-days', '2', '-extfile', p(`${name}.ext`));
  };
  leaf('server', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: p('test-ca.crt'),
    serverKey: p('server.key'),
    serverCert: p('server.crt'),
    otherCaCert: p('other-ca.crt'),
    clientKey: p('client.key'),
    clientCert: p('client.crt'),
  };
}
