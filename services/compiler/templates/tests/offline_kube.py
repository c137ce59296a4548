"""A kubeconfig naming an unreachable loopback API server, for tests that build pods.

The pod operator asks its Kubernetes hook whether it runs in a cluster while building a pod; this
config answers that without any connection."""

import os
import tempfile


def use_unreachable_cluster():
    """Points KUBECONFIG at a fresh config whose cluster is https://127.0.0.1:9 (namespace jobs)."""
    path = os.path.join(tempfile.mkdtemp(prefix="optimus-kube-"), "config")
    with open(path, "w") as f:
        f.write(
            "apiVersion: v1\nkind: Config\n"
            "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
            "users: [{name: u, user: {token: t}}]\n"
            "contexts: [{name: x, context: {cluster: c, user: u, namespace: jobs}}]\n"
            "current-context: x\n"
        )
    os.environ["KUBECONFIG"] = path
