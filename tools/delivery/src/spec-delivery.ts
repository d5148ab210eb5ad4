/**
 * What the delivery files must say, as data: one row per app (image, user, ports), the Kubernetes version the
 * manifests are validated against, and where each file lives. The checks and tests read this table; nothing
 * else in tools/delivery hard-codes an app.
 */
import { join, resolve } from 'node:path';

/** The repository root (tools/delivery/src -> ../../..). */
export const REPO_ROOT = resolve(__dirname, '../../..');

/** Kubernetes version the manifests must validate against; the kind node image is pinned to the same version. */
export const KUBERNETES_VERSION = '1.34.0';

/** Smallest Node.js the images may run (package.json engines). */
export const MIN_NODE = { major: 20, minor: 19 } as const;

export interface PortSpec {
  /** IANA-style port name, used by Services as targetPort. */
  name: string;
  /** Port the process listens on inside the container. */
  containerPort: number;
  /** Port the Service exposes, when different from containerPort (the webhook is called on 443). */
  servicePort?: number;
}

export interface AppDelivery {
  /** Nx project name: apps/<app>. */
  app: string;
  /** Image name built by skaffold and referenced by the manifests. */
  image: string;
  /** Numeric user the image runs as (never 0). */
  uid: number;
  /** Ports the image EXPOSEs and the Kubernetes container declares. */
  ports: readonly PortSpec[];
  /**
   * How the app reaches the cluster: a control-plane component gets a Deployment and a Service in istio-system;
   * the sidecar is injected into workload pods, so k8s/ carries it as the injector's PodTemplate.
   */
  kind: 'control-plane' | 'sidecar';
  /** Name of the Deployment/Service/ServiceAccount (Istio 1.1 names) or of the PodTemplate. */
  workload: string;
}

const MONITORING: PortSpec = { name: 'http-monitoring', containerPort: 15014 };
/** Control-plane processes run as this non-root user; the sidecar as 1337, which Istio's capture rules exempt. */
export const CONTROL_PLANE_UID = 10001;
export const SIDECAR_UID = 1337;

export const APPS: readonly AppDelivery[] = [
  {
    app: 'pilot',
    image: 'mesh/pilot',
    uid: CONTROL_PLANE_UID,
    kind: 'control-plane',
    workload: 'istio-pilot',
    ports: [
      { name: 'grpc-xds', containerPort: 15010 },
      { name: 'grpc-xds-tls', containerPort: 15012 },
      MONITORING,
    ],
  },
  {
    app: 'galley',
    image: 'mesh/galley',
    uid: CONTROL_PLANE_UID,
    kind: 'control-plane',
    workload: 'istio-galley',
    ports: [{ name: 'grpc-mcp', containerPort: 9901 }, MONITORING],
  },
  {
    app: 'mixer',
    image: 'mesh/mixer',
    uid: CONTROL_PLANE_UID,
    kind: 'control-plane',
    workload: 'istio-mixer',
    ports: [{ name: 'grpc-mixer', containerPort: 9091 }, MONITORING],
  },
  {
    app: 'citadel',
    image: 'mesh/citadel',
    uid: CONTROL_PLANE_UID,
    kind: 'control-plane',
    workload: 'istio-citadel',
    ports: [{ name: 'grpc-citadel', containerPort: 8060 }, MONITORING],
  },
  {
    app: 'injector',
    image: 'mesh/injector',
    uid: CONTROL_PLANE_UID,
    kind: 'control-plane',
    workload: 'istio-sidecar-injector',
    ports: [{ name: 'https-webhook', containerPort: 15017, servicePort: 443 }, MONITORING],
  },
  {
    app: 'sidecar',
    image: 'mesh/sidecar',
    uid: SIDECAR_UID,
    kind: 'sidecar',
    workload: 'istio-sidecar-proxy',
    ports: [
      { name: 'http-admin', containerPort: 15000 },
      { name: 'tcp-outbound', containerPort: 15001 },
      { name: 'tcp-inbound', containerPort: 15006 },
      { name: 'http-agent', containerPort: 15020 },
      { name: 'http-health', containerPort: 15021 },
      { name: 'http-envoy-prom', containerPort: 15090 },
    ],
  },
];

/** Namespace of every control-plane object. */
export const MESH_NAMESPACE = 'istio-system';

export const paths = {
  dockerfile: (app: string): string => join(REPO_ROOT, 'apps', app, 'Dockerfile'),
  skaffold: join(REPO_ROOT, 'skaffold.yaml'),
  k8sDir: join(REPO_ROOT, 'k8s'),
  kindCluster: join(REPO_ROOT, 'k8s', 'kind-cluster.yaml'),
};
