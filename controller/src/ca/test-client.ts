// Test support: a bare CreateCertificate caller (token, CSR, optional ImpersonatedIdentity) that
// reports the chain or the gRPC status, for the CA's unit and lab suites.
import { credentials, makeGenericClientConstructor, Metadata, type ServiceError, type status } from '@grpc/grpc-js';
import { istioCertificateServiceDefinition, structFromJson, type IstioCertificateRequest, type IstioCertificateResponse } from '../../../lib/proto/index.ts';

type Client = {
  CreateCertificate(req: IstioCertificateRequest, md: Metadata, cb: (err: ServiceError | null, res?: IstioCertificateResponse) => void): void;
  close(): void;
};

export interface CaAnswer {
  chain?: string[];
  code?: status;
  details?: string;
}

export function testCaClient(address: string): { ask(token: string | undefined, csr: string, impersonated?: string): Promise<CaAnswer>; close(): void } {
  const Ctor = makeGenericClientConstructor(istioCertificateServiceDefinition, 'IstioCertificateService');
  const client = new Ctor(address, credentials.createInsecure()) as unknown as Client;
  return {
    ask: (token, csr, impersonated) => new Promise((resolve) => {
      const md = new Metadata();
      if (token) md.set('authorization', `Bearer ${token}`);
      client.CreateCertificate({ csr, validityDuration: 3600, ...(impersonated ? { metadata: structFromJson({ ImpersonatedIdentity: impersonated }) } : {}) }, md, (err, res) =>
        resolve(err ? { code: err.code, details: err.details } : { chain: res!.certChain }));
    }),
    close: () => client.close(),
  };
}
