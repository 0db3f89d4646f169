// The one place that binds @peculiar/x509 to Node's WebCrypto, so every identity module builds and
// parses X.509 and PKCS#10 with the same provider. Import x509 from here, not from the package.
import './reflect-metadata-shim.ts';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, type webcrypto } from 'node:crypto';

x509.cryptoProvider.set(globalThis.crypto);

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type SigningAlgorithm = webcrypto.Algorithm | webcrypto.EcdsaParams;

export { x509 };

export const EC_P256: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** Signature algorithm matching a signing key; SHA-256 everywhere, as Istio's CA and ztunnel use. */
export function signingAlgorithmFor(key: CryptoKey): SigningAlgorithm {
  if (key.algorithm.name === 'ECDSA') return { name: 'ECDSA', hash: 'SHA-256' } satisfies webcrypto.EcdsaParams;
  return { name: key.algorithm.name, hash: 'SHA-256' } as SigningAlgorithm;
}

export async function generateP256KeyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 PEM of a private key (the form ztunnel keeps and Node's tls accepts). */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

/**
 * Imports a PEM private key for signing. Accepts PKCS#8, SEC1 (`EC PRIVATE KEY`) and PKCS#1
 * (`RSA PRIVATE KEY`), since plug-in CA keys (Istio's ca-key.pem) come in all three.
 */
export function importSigningKey(pem: string): Promise<CryptoKey> {
  const key = createPrivateKey(pem);
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (!namedCurve) throw new TypeError(`unsupported EC curve ${curve ?? '?'}`);
    return Promise.resolve(key.toCryptoKey({ name: 'ECDSA', namedCurve }, false, ['sign']));
  }
  if (type === 'rsa') {
    return Promise.resolve(key.toCryptoKey({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']));
  }
  throw new TypeError(`unsupported key type ${type ?? '?'}`);
}

/** One PEM block per certificate in a bundle, each ending with a newline. */
export function splitPemCertificates(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

export function certificateToPem(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').trimEnd()}\n`;
}
