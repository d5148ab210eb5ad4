/** Citadel's Prometheus metrics (own registry, served on the monitoring address). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class CitadelMetrics {
  readonly registry = new Registry();
  readonly csrCount = new Counter({ name: 'citadel_server_csr_count', help: 'CSRs received by CreateCertificate', registers: [this.registry] });
  readonly issued = new Counter({ name: 'citadel_server_success_cert_issuance_count', help: 'Workload certificates issued', registers: [this.registry] });
  readonly refusals = new Counter({
    name: 'citadel_server_refusal_count',
    help: 'CreateCertificate requests refused, by reason (error code)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly issueSeconds = new Histogram({
    name: 'citadel_server_issue_duration_seconds',
    help: 'Time to authenticate, validate and sign one request',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor(rootNotAfter: () => Date) {
    new Gauge({
      name: 'citadel_server_root_cert_expiry_seconds',
      help: 'Seconds until the root certificate that ends issued chains expires',
      registers: [this.registry],
      collect() {
        this.set(Math.round((rootNotAfter().getTime() - Date.now()) / 1000));
      },
    });
  }
}
