// The HTTP listener's own certificate and key (--http-tls-cert, --http-tls-key), read and checked before it listens.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

import { AppError } from '../../core/errors.js';

/** PEM text for node's https server: the certificate (with its chain, if the file has one) and its key. */
export interface HttpTls {
  cert: string;
  key: string;
}

const HINT =
  'set --http-tls-cert and --http-tls-key (master.http_tls_cert, master.http_tls_key) to PEM files';

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AppError('invalid_argument', `cannot read the HTTPS ${what} ${path}: ${reason}`, {
      hint: HINT,
      cause: error,
    });
  }
}

/**
 * Reads the pair and checks it as a person would want it checked at start, not at the first browser's handshake:
 * both files readable, a certificate in one, an unencrypted private key in the other, and the key the
 * certificate's. Every failure is an `invalid_argument` naming the file (the CLI exits 2 with that message).
 */
export function loadHttpTls(files: { certFile: string; keyFile: string }): HttpTls {
  const cert = readPem(files.certFile, 'certificate');
  const key = readPem(files.keyFile, 'key');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new AppError('invalid_argument', `${files.certFile} holds no PEM certificate`, {
      hint: HINT,
      cause: error,
    });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new AppError('invalid_argument', `${files.keyFile} holds no unencrypted PEM private key`, {
      hint: HINT,
      cause: error,
    });
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new AppError(
      'invalid_argument',
      `the key in ${files.keyFile} does not belong to the certificate in ${files.certFile}`,
      { hint: HINT },
    );
  }
  try {
    // What the server will do with them; catches what the checks above do not (a key type TLS refuses).
    createSecureContext({ cert, key });
  } catch (error) {
    throw new AppError(
      'invalid_argument',
      `cannot serve HTTPS with ${files.certFile} and ${files.keyFile}: ${(error as Error).message}`,
      { hint: HINT, cause: error },
    );
  }
  return { cert, key };
}
