/** Reading the files named under `output.tls` (vector and http outputs), at start, with clear errors. */
import { readFile } from 'node:fs/promises';
import { SinkError } from '../../errors.js';
import type { TlsFilesConfig } from './config.js';

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export async function readTlsFiles(tls: TlsFilesConfig): Promise<TlsMaterial> {
  const out: TlsMaterial = {};
  const read = async (key: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'read error';
      throw new SinkError('DLB_SINK_TLS_FILE', `output.tls.${key}: cannot read ${path} (${code}).`, { cause: err });
    }
  };
  if (tls.caFile) out.ca = await read('ca_file', tls.caFile);
  if (tls.certFile) out.cert = await read('cert_file', tls.certFile);
  if (tls.keyFile) out.key = await read('key_file', tls.keyFile);
  return out;
}
