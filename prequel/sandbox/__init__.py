"""Running hostile candidate code: bubblewrap namespaces, a dedicated uid, cgroup limits."""
