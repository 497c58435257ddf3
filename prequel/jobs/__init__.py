"""The worker: the operations queue, the deadline timer and the reconciler."""
