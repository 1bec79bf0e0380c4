import { defineConfig } from 'vitest/config';

// Three projects: `local` tests need nothing but this machine's programs (openssl, redis, haproxy,
// softhsm); `kube` tests (`*.k8s.test.ts`) also need a Kubernetes API, which the global setup
// starts (etcd + kube-apiserver on 127.0.0.1) unless KUBECONFIG already names a cluster; `node`
// tests (`*.node.test.ts`) run real pods on a real single-node Kubernetes that their global setup
// starts on this machine (kubelet, containerd, kube-proxy, CoreDNS; see src/devenv/node-cluster.ts).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 240_000,
    // Two cores: more workers only make the real servers the tests start slower.
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'local',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.k8s.test.ts', 'test/**/*.node.test.ts', 'dist/**', 'node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'kube',
          include: ['test/**/*.k8s.test.ts'],
          exclude: ['dist/**', 'node_modules/**'],
          globalSetup: ['test/setup/control-plane.global.ts'],
          // One shared apiserver: run the kube suites one file at a time.
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.node.test.ts'],
          exclude: ['dist/**', 'node_modules/**'],
          globalSetup: ['test/setup/node-cluster.global.ts'],
          // One node: one file at a time. Pods start in seconds, not milliseconds.
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
