/**
 * Keeps the workload certificate fresh. Like Istio's agent, a certificate is renewed once `graceRatio` of
 * its lifetime is left (default 0.5), a little earlier by a random jitter so that many proxies started
 * together do not renew together. A failed renewal is retried with exponential backoff; the current
 * certificate stays in use meanwhile (even once expired: there is nothing better to serve). Subscribers
 * (SDS, the sidecar's listeners and clusters) are told of every new certificate. Timers are unref'd.
 */
import type { Logger } from '@mesh/runtime';
import type { WorkloadCertificate } from './agent-certificate';

export interface RotationOptions {
  /** Renew when this fraction of the lifetime is left (Istio SECRET_GRACE_PERIOD_RATIO, default 0.5). */
  graceRatio?: number;
  /** Up to this fraction of the lifetime earlier, at random (default 0.05). */
  jitterRatio?: number;
  /** First retry delay after a failure (default 1 s), doubled per failure up to maxBackoffMs (default 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** For tests of the schedule: the random source in [0, 1). */
  random?: () => number;
}

export type RotateListener = (cert: WorkloadCertificate, previous: WorkloadCertificate) => void;

export interface RotationStatus {
  /** When the next attempt is due (undefined once stopped). */
  nextAttemptAt: Date | undefined;
  consecutiveFailures: number;
  lastError: string | undefined;
  rotations: number;
}

/** When a certificate should be renewed: `graceRatio` of its lifetime before notAfter, minus jitter. */
export function renewalTime(cert: WorkloadCertificate, graceRatio: number, jitterRatio: number, random: () => number): number {
  // Lifetime as seen from when it arrived: Citadel back-dates notBefore by a minute for clock skew.
  const start = Math.max(cert.notBefore.getTime(), cert.receivedAt.getTime());
  const end = cert.notAfter.getTime();
  const lifetime = Math.max(0, end - start);
  return end - lifetime * graceRatio - lifetime * jitterRatio * random();
}

export class CertificateRotator {
  private cert: WorkloadCertificate;
  private readonly listeners = new Set<RotateListener>();
  private timer: NodeJS.Timeout | undefined;
  private nextAt: number | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private rotations = 0;
  private stopped = false;
  private inFlight: Promise<void> | undefined;
  private readonly graceRatio: number;
  private readonly jitterRatio: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;

  constructor(
    initial: WorkloadCertificate,
    private readonly fetch: () => Promise<WorkloadCertificate>,
    private readonly logger: Logger,
    options: RotationOptions = {},
  ) {
    this.cert = initial;
    this.graceRatio = options.graceRatio ?? 0.5;
    this.jitterRatio = options.jitterRatio ?? 0.05;
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.scheduleRenewal();
  }

  current(): WorkloadCertificate {
    return this.cert;
  }

  /** Subscribes to new certificates; returns the unsubscribe function. */
  onRotate(listener: RotateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): RotationStatus {
    return {
      nextAttemptAt: this.nextAt === undefined ? undefined : new Date(this.nextAt),
      consecutiveFailures: this.failures,
      lastError: this.lastError,
      rotations: this.rotations,
    };
  }

  /** Renews now (an admin action or a test); resolves once the attempt is over. */
  async rotateNow(): Promise<void> {
    this.clearTimer();
    await this.attempt();
  }

  /**
   * A new trust bundle with the same certificate (a root rotation in its overlap period): subscribers are
   * told as for a rotation. Returns false when the bundle is unchanged.
   */
  updateRoots(rootCertPem: string): boolean {
    if (this.stopped || rootCertPem === this.cert.rootCertPem) return false;
    const previous = this.cert;
    this.cert = { ...previous, rootCertPem };
    this.logger.info('trust bundle changed', { identity: previous.identity, serial: previous.serialNumber });
    this.notify(this.cert, previous);
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private scheduleRenewal(): void {
    const at = renewalTime(this.cert, this.graceRatio, this.jitterRatio, this.random);
    this.schedule(at);
    this.logger.info('certificate renewal scheduled', {
      identity: this.cert.identity,
      serial: this.cert.serialNumber,
      notAfter: this.cert.notAfter.toISOString(),
      renewAt: new Date(at).toISOString(),
    });
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    this.clearTimer();
    this.nextAt = at;
    this.timer = setTimeout(() => void this.attempt(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAt = undefined;
  }

  /** One renewal at a time: a second caller waits for the attempt already running. */
  private attempt(): Promise<void> {
    this.inFlight ??= this.renew().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    this.nextAt = undefined;
    let next: WorkloadCertificate;
    try {
      next = await this.fetch();
    } catch (err) {
      if (this.stopped) return;
      this.failures += 1;
      this.lastError = (err as Error).message;
      const base = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (this.failures - 1));
      const delay = base * (0.8 + 0.4 * this.random());
      const expired = this.cert.notAfter.getTime() <= Date.now();
      const fields = {
        identity: this.cert.identity,
        serial: this.cert.serialNumber,
        notAfter: this.cert.notAfter.toISOString(),
        failures: this.failures,
        retryInMs: Math.round(delay),
        code: (err as { code?: unknown }).code,
        err: this.lastError,
      };
      if (expired) this.logger.error('certificate renewal failed and the current certificate has expired', fields);
      else this.logger.warn('certificate renewal failed; keeping the current certificate', fields);
      this.schedule(Date.now() + delay);
      return;
    }
    if (this.stopped) return;
    const previous = this.cert;
    this.cert = next;
    this.failures = 0;
    this.lastError = undefined;
    this.rotations += 1;
    this.logger.info('certificate rotated', {
      identity: next.identity,
      serial: next.serialNumber,
      previousSerial: previous.serialNumber,
      notAfter: next.notAfter.toISOString(),
    });
    this.notify(next, previous);
    this.scheduleRenewal();
  }

  private notify(next: WorkloadCertificate, previous: WorkloadCertificate): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(next, previous);
      } catch (err) {
        this.logger.error('certificate rotation subscriber failed', { identity: next.identity, err });
      }
    }
  }
}
